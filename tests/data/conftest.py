"""Small datasets in each real on-disk format, generated per test (no binary fixtures in git)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from PIL import Image, ImageDraw

SHARED_DATA = Path(__file__).parents[2] / ".." / "shared" / "data"

Box = tuple[int, int, int, int]
PAGE_SIZE = (900, 330)
PAGE_LINES: dict[str, Box] = {"l1": (40, 30, 860, 100), "l2": (40, 130, 700, 200), "l3": (40, 230, 500, 300)}
"""Line boxes (left, top, right, bottom) on the generated page; each is filled with fake ink."""


def write_line_image(path: Path, size: tuple[int, int] = (120, 32)) -> Path:
    """A tiny line image: readers only check that it exists, but it is a real PNG anyway."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, 255).save(path)
    return path


def write_page_image(path: Path) -> Path:
    """A beige page with a zigzag 'handwriting' stroke inside each of PAGE_LINES."""
    image = Image.new("L", PAGE_SIZE, 205)
    draw = ImageDraw.Draw(image)
    for left, top, right, bottom in PAGE_LINES.values():
        middle, amplitude = (top + bottom) // 2, (bottom - top) // 3
        points = [(x, middle + (amplitude if (x // 12) % 2 else -amplitude)) for x in range(left + 10, right - 10, 12)]
        draw.line(points, fill=30, width=4)
    image.save(path)
    return path


def box_points(box: Box, separator: str = ",") -> str:
    """The box as a 4-point polygon string, "x,y x,y ..." (PAGE) or with separator " " (ALTO)."""
    left, top, right, bottom = box
    corners = [(left, top), (right, top), (right, bottom), (left, bottom)]
    return " ".join(f"{x}{separator}{y}" for x, y in corners)


def page_xml(image_name: str, lines: Sequence[str]) -> str:
    """A PAGE 2019 document around already-written TextLine elements."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">\n'
        f'  <Page imageFilename={quoteattr(image_name)} imageWidth="{PAGE_SIZE[0]}" imageHeight="{PAGE_SIZE[1]}">\n'
        '    <TextRegion id="r1">\n' + "\n".join(lines) + "\n    </TextRegion>\n  </Page>\n</PcGts>\n"
    )


def page_line(line_id: str, points: str, *texts: tuple[str | None, str]) -> str:
    """A PAGE TextLine with one TextEquiv per (index or None, text)."""
    equivs = "".join(
        f"<TextEquiv{'' if index is None else f' index={quoteattr(index)}'}><Unicode>{text}</Unicode></TextEquiv>"
        for index, text in texts
    )
    return f'<TextLine id="{line_id}"><Coords points="{points}"/>{equivs}</TextLine>'


def alto_xml(image_name: str, lines: Sequence[str]) -> str:
    """An ALTO v4 document around already-written TextLine elements."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">\n'
        "  <Description><MeasurementUnit>pixel</MeasurementUnit>\n"
        f"    <sourceImageInformation><fileName>{image_name}</fileName></sourceImageInformation>\n"
        "  </Description>\n"
        f'  <Layout><Page WIDTH="{PAGE_SIZE[0]}" HEIGHT="{PAGE_SIZE[1]}" ID="p1"><PrintSpace>'
        '<TextBlock ID="b1">\n' + "\n".join(lines) + "\n</TextBlock></PrintSpace></Page></Layout>\n</alto>\n"
    )


def alto_line(line_id: str, box: Box, *contents: str, polygon: str | None = None) -> str:
    """An ALTO TextLine with its box attributes, an optional Shape/Polygon and one String per content."""
    left, top, right, bottom = box
    shape = "" if polygon is None else f'<Shape><Polygon POINTS="{polygon}"/></Shape>'
    strings = "".join(f"<String CONTENT={quoteattr(content)}/>" for content in contents)
    return (
        f'<TextLine ID="{line_id}" HPOS="{left}" VPOS="{top}" WIDTH="{right - left}" HEIGHT="{bottom - top}">'
        f"{shape}{strings}</TextLine>"
    )


@pytest.fixture
def page_lines() -> dict[str, Box]:
    """The line boxes drawn on the generated page images."""
    return dict(PAGE_LINES)


@pytest.fixture
def line_image() -> Callable[..., Path]:
    """Writes a small line image where a test needs one more."""
    return write_line_image


@pytest.fixture
def shared_data() -> Path:
    """The real data set next to the repo; tests that need it are skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA.resolve()}")
    return SHARED_DATA


@pytest.fixture
def iam_root(tmp_path: Path) -> Path:
    """An IAM tree as distributed: ascii/lines.txt and ascii/forms.txt, lines/<a01>/<a01-000u>/*.png."""
    root = tmp_path / "iam"
    (root / "ascii").mkdir(parents=True)
    (root / "ascii" / "lines.txt").write_text(
        "#--- lines.txt ---------------------------------------------------------------#\n"
        "#\n"
        "# format: a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop|Mr.|Gaitskell|from\n"
        "#\n"
        "a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop|Mr.|Gaitskell|from\n"
        "a01-000u-01 err 156 19 395 932 1850 105 nominating|any|more|Labour|life|Peers\n"
        "a01-000u-02 ok 157 16 408 1106 1838 -1 &quot;Yes|,|&quot;|said|he 's|sure\n"
        "a01-000u-03 ok 156 8 393 1270 1855 87\n"
        "a01-117-05-02 ok 160 5 395 1470 1000 80 damaged|line\n"
        "b02-010-00 ok 150 9 400 700 1500 90 missing|image\n"
        "c03-003-00 ok 150 9\n",
        encoding="utf-8",
    )
    (root / "ascii" / "forms.txt").write_text(
        "#--- forms.txt ---\n# format: a01-000u 000 2 prt 7 5 52 36\na01-000u 000 2 prt 7 5 52 36\n",
        encoding="utf-8",
    )
    for line_id in ("a01-000u-00", "a01-000u-01", "a01-000u-02", "a01-000u-03", "a01-117-05-02"):
        form = line_id.rsplit("-", 1)[0]
        write_line_image(root / "lines" / line_id.split("-")[0] / form / f"{line_id}.png")
    return root


@pytest.fixture
def gt_root(tmp_path: Path) -> Path:
    """A gt folder with every case a real one has: good pairs, no sidecar, multi-line, empty, orphan."""
    root = tmp_path / "gt"
    labels = {
        "train/JDH_2_16_144_001_r1l1": "  The  Lords\u00a0Peers\n",
        "train/JDH_2_16_144_001_r1l2": "Cafe\u0301 &c\n\n",
        "train/JDH_2_16_144_001_r1l3": "first line\nsecond line\n",
        "train/JDH_2_16_144_001_r1l4": " \n",
        "val/plain": "\ufeffno underscore in this stem",
        "orphan_r1": "label without an image",
    }
    for key, text in labels.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / f"{key}.gt.txt").write_text(text, encoding="utf-8")
    for key in ("train/JDH_2_16_144_001_r1l1", "train/JDH_2_16_144_001_r1l3", "train/JDH_2_16_144_001_r1l4"):
        write_line_image(root / f"{key}.png")
    write_line_image(root / "train/JDH_2_16_144_001_r1l2.webp")
    write_line_image(root / "val/plain.jpg")
    write_line_image(root / "val/unlabelled_r9.png")
    (root / "val" / "notes.txt").write_text("not a label", encoding="utf-8")
    return root


@pytest.fixture
def page_folder(tmp_path: Path) -> Path:
    """One PAGE file with its page image: a good line, a line without text, a 2-point line."""
    folder = tmp_path / "page"
    folder.mkdir()
    write_page_image(folder / "letter_001.png")
    lines = [
        page_line("l1", box_points(PAGE_LINES["l1"]), ("2", "second  reading"), ("1", "Dear  Sir,")),
        page_line("l2", box_points(PAGE_LINES["l2"])),
        page_line("l3", "40,230 500,300", (None, "two points only")),
    ]
    (folder / "letter_001.xml").write_text(page_xml("letter_001.png", lines), encoding="utf-8")
    return folder


@pytest.fixture
def alto_folder(tmp_path: Path) -> Path:
    """One ALTO file with its page image: polygons "x y" and "x,y", a box only, an empty and a flat line."""
    folder = tmp_path / "alto"
    folder.mkdir()
    write_page_image(folder / "will_0001-0.png")
    spaced_polygon = box_points(PAGE_LINES["l1"], " ")
    lines = [
        alto_line("eSc_line_1", PAGE_LINES["l1"], "Ceci est", "mon testament", polygon=spaced_polygon),
        alto_line("eSc_line_2", PAGE_LINES["l2"], "Je lègue", polygon=box_points(PAGE_LINES["l2"])),
        alto_line("eSc_line_3", PAGE_LINES["l3"], "à mon frère"),
        alto_line("eSc_line_4", (40, 300, 500, 320), ""),
        alto_line("eSc_line_5", (40, 310, 500, 310), "flat", polygon="40 310 500 310 270 310"),
    ]
    (folder / "will_0001-0.xml").write_text(alto_xml("will_0001-0.png", lines), encoding="utf-8")
    return folder

