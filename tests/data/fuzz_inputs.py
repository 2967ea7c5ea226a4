"""Hostile inputs for the data layer, and the rule every one of them must obey.

Shared by the hypothesis tests (test_fuzz_readers.py, test_images_edge_cases.py) and the atheris
harness (fuzz_atheris.py), so that a long fuzzing run checks exactly what the suite checks: a bad
input ends in a LinescribeError whose one-line message names the file, or in an entry skipped and
counted in the dataset's one-line summary. Any other exception is a bug.
"""

from __future__ import annotations

import faulthandler
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from linescribe.data.dataset import LoadedDataset, load_dataset
from linescribe.data.images import load_gray, load_sample_image
from linescribe.data.readers import DatasetSpec
from linescribe.errors import ImageError, LinescribeError

PAGE_SIZE = (320, 120)
LINE_BOXES = ((10, 10, 300, 50), (10, 60, 300, 110))
"""(left, top, right, bottom) of the two lines drawn on the page and named by the seeds."""

PAGE_SEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">\n'
    b'<Page imageFilename="page.png" imageWidth="320" imageHeight="120"><TextRegion id="r1">\n'
    b'<TextLine id="l1"><Coords points="10,10 300,10 300,50 10,50"/>'
    b'<TextEquiv index="1"><Unicode>Dear Sir,</Unicode></TextEquiv></TextLine>\n'
    b'<TextLine id="l2"><Coords><Point x="10" y="60"/><Point x="300" y="60"/><Point x="300" y="110"/></Coords>'
    b"<TextEquiv><Unicode>yours &amp;c</Unicode></TextEquiv></TextLine>\n"
    b"</TextRegion></Page></PcGts>\n"
)

ALTO_SEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">\n'
    b"<Description><MeasurementUnit>pixel</MeasurementUnit>"
    b"<sourceImageInformation><fileName>page.png</fileName></sourceImageInformation></Description>\n"
    b'<Layout><Page WIDTH="320" HEIGHT="120" ID="p1"><PrintSpace><TextBlock ID="b1">\n'
    b'<TextLine ID="a1" HPOS="10" VPOS="10" WIDTH="290" HEIGHT="40">'
    b'<Shape><Polygon POINTS="10 10 300 10 300 50 10 50"/></Shape><String CONTENT="Ceci est"/></TextLine>\n'
    b'<TextLine ID="a2" HPOS="10" VPOS="60" WIDTH="290" HEIGHT="50"><String CONTENT="mon testament"/></TextLine>\n'
    b"</TextBlock></PrintSpace></Page></Layout></alto>\n"
)

IAM_SEED = (
    b"#--- lines.txt ---\n"
    b"# format: a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop\n"
    b"a01-000u-00 ok 154 19 408 746 120 32 A|MOVE|to|stop|&quot;Mr.&quot;\n"
    b"a01-000u-01 err 156 19 395 932 120 -1 nominating|any|more\n"
)

TSV_SEED = (
    b"path\ttext\tid\tpage\twidth\theight\n"
    b"lines/l1.png\tA line\tl1\tp1\t120\t32\n"
    b"lines/l2.png\tTwo\tl2\tp1\t-1\tx\n"
)

CSV_SEED = b'image,transcription,id,writer\nlines/l1.png,"Well, ""quoted""",l1,w1\nlines/l2.png,plain,l2,w2\n'

GT_SEED = "  The Lords\u00a0Peers\n".encode()

SEEDS: dict[str, bytes] = {
    "iam": IAM_SEED,
    "tsv": TSV_SEED,
    "csv": CSV_SEED,
    "page": PAGE_SEED,
    "alto": ALTO_SEED,
    "gt": GT_SEED,
}
"""A valid file of each layout; "csv" is the tsv reader on a .csv manifest."""

TOKENS = [
    token.encode()
    for token in (
        "nan", "inf", "-1e309", "1e308", "-5", "-1", "abc", ",", " ", "\t", "\n", "\r", "|", "#", "\"", "'",
        "99999999999999999999", "1e-400", "0x10", "\u0661\u0662", "\u00e9", "\ufeff", "\x00", "\x85", "\u2028",
        "&amp;", "&quot;", "&#0;", "&x;", "<", ">", "]]>", "<![CDATA[", "<!DOCTYPE x>", "<?pi?>",
        'encoding="utf-32"', 'encoding="UTF-9"', 'encoding="rot13"', "<TextLine>", "</TextLine>",
    )
]  # fmt: skip
"""Fragments that the parsers treat specially: numbers they may choke on, separators, markup."""


@st.composite
def mutations(draw: st.DrawFn, seed: bytes, tokens: Sequence[bytes] = TOKENS) -> bytes:
    """The seed with a few edits: cut short, a byte changed, bytes inserted or deleted, a byte
    repeated into a huge field (longer than a file name may be), a token spliced in."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["truncate", "replace", "insert", "delete", "repeat", "token"]))
        if edit == "truncate":
            del data[position:]
        elif edit == "replace":
            data[position : position + 1] = draw(st.binary(min_size=1, max_size=1))
        elif edit == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif edit == "repeat":
            data[position:position] = draw(st.binary(min_size=1, max_size=1)) * draw(st.integers(256, 5000))
        else:
            data[position:position] = draw(st.sampled_from(tokens))
    return bytes(data)


def write_page_image(path: Path) -> Path:
    """A light page with a dark stroke in each of LINE_BOXES; kept when already there, so that a
    folder reused for many inputs (the fuzz tests' workspace) costs one image write, not one each."""
    if path.exists():
        return path
    image = Image.new("L", PAGE_SIZE, 215)
    draw = ImageDraw.Draw(image)
    for left, top, right, bottom in LINE_BOXES:
        draw.line([(left + 5, (top + bottom) // 2), (right - 5, (top + bottom) // 2)], fill=20, width=5)
    image.save(path)
    return path


def write_line_image(path: Path) -> Path:
    """A blank line image; kept when already there, as the page."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (120, 32), 230).save(path)
    return path


def write_dataset(folder: Path, layout: str, content: bytes) -> DatasetSpec:
    """A dataset of the layout (a key of SEEDS) in folder, with content as its text file and the
    images its seed names, so that a mutation that keeps a line valid reaches the image loader.
    Writing another content into the same folder replaces the dataset."""
    folder.mkdir(parents=True, exist_ok=True)
    if layout == "iam":
        for line in ("a01-000u-00", "a01-000u-01"):
            write_line_image(folder / "lines" / "a01" / "a01-000u" / f"{line}.png")
        (folder / "lines.txt").write_bytes(content)
        return DatasetSpec("iam", folder)
    if layout in ("tsv", "csv"):
        for line in ("l1", "l2"):
            write_line_image(folder / "lines" / f"{line}.png")
        manifest = folder / f"lines.{layout}"
        manifest.write_bytes(content)
        return DatasetSpec("tsv", manifest)
    if layout in ("page", "alto"):
        write_page_image(folder / "page.png")
        (folder / "page.xml").write_bytes(content)
        return DatasetSpec(layout, folder / "page.xml")
    if layout == "gt":
        write_line_image(folder / "doc_001_l1.png")
        (folder / "doc_001_l1.gt.txt").write_bytes(content)
        return DatasetSpec("gt", folder)
    raise ValueError(f"unknown layout {layout!r}")


@contextmanager
def hang_guard(capture: pytest.CaptureFixture[str], seconds: float) -> Iterator[None]:
    """Ends the whole test process, printing every thread's traceback, if the block outlives
    ``seconds``: a hang inside C code (a decoder, expat) cannot be interrupted any other way, and
    pytest-timeout is not a dependency. The traceback goes to the real stderr, taken while
    ``capture`` is off, since pytest's captured output would be lost with the process."""
    with capture.disabled():
        terminal = os.dup(2)
    faulthandler.dump_traceback_later(seconds, exit=True, file=terminal)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        os.close(terminal)


def assert_one_line_naming(message: str, name: Path | str) -> None:
    assert len(message.splitlines()) == 1, f"not one line: {message!r}"
    assert str(name) in message, f"{message!r} does not name {name}"


def check_dataset(spec: DatasetSpec) -> LoadedDataset | None:
    """Read the dataset (leniently and with --strict) and decode every line image, as training
    does; None when the dataset was refused as a whole. A wrong outcome raises."""
    try:
        load_dataset(spec, strict=True)
    except LinescribeError as error:
        assert_one_line_naming(str(error), spec.path)
    try:
        loaded = load_dataset(spec)
    except LinescribeError as error:
        assert_one_line_naming(str(error), spec.path)
        return None
    assert_one_line_naming(loaded.summary(), spec.path)
    for sample in loaded.samples:
        try:
            image = load_sample_image(sample)
        except ImageError as error:
            assert_one_line_naming(str(error), sample.path)
        else:
            assert image.dtype == np.uint8 and image.ndim == 2 and image.size > 0
    return loaded


def check_image(data: bytes, path: Path, max_pixels: int) -> np.ndarray | None:
    """load_gray on the bytes and on a file holding them: the same 2-D uint8 image both ways,
    or an ImageError naming the file; None when refused. A wrong outcome raises."""
    path.write_bytes(data)
    try:
        image = load_gray(path, max_pixels=max_pixels)
    except ImageError as error:
        assert_one_line_naming(str(error), path)
        image = None
    try:
        from_bytes = load_gray(data, max_pixels=max_pixels)
    except ImageError as error:
        assert_one_line_naming(str(error), f"<{len(data)} bytes>")
        from_bytes = None
    assert (image is None) == (from_bytes is None)
    if image is not None:
        assert image.dtype == np.uint8 and image.ndim == 2 and image.size > 0
        assert np.array_equal(image, from_bytes)
    return image
