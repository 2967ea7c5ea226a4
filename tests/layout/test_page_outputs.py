"""Page outputs: text, JSON, PAGE and ALTO (valid against their schemas, and readable by our own
readers), and the overlay picture."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
from generated import TWO_COLUMNS, printed_page

from linescribe.data.readers import parse_spec, read_entries
from linescribe.data.sample import Sample
from linescribe.errors import ImageError, LinescribeError
from linescribe.layout import (
    read_page,
    render_outputs,
    to_alto,
    to_json,
    to_page_xml,
    to_text,
    write_outputs,
)


@pytest.fixture
def page(echo):
    """A two-column page read by the echo recognizer: lines say "line 0" ... "line 5"."""
    image = printed_page(TWO_COLUMNS, seed=3, columns=2, line_gap=(0.1, 0.3)).image
    return read_page(echo, image, source="scans/two columns.png"), image


@pytest.fixture
def blank(echo):
    return read_page(echo, np.full((300, 200), 240, np.uint8), source="blank.png")


def test_text_has_one_line_per_line(page, blank):
    result, _ = page
    assert to_text(result) == "".join(f"line {n}\n" for n in range(6))
    assert to_text(blank) == ""


def test_json_lists_lines_in_reading_order(page):
    result, _ = page
    data = json.loads(json.dumps(to_json(result)))
    assert data["image"] == "scans/two columns.png"
    assert (data["width"], data["height"]) == (result.width, result.height)
    assert [line["index"] for line in data["lines"]] == list(range(6))
    assert [line["block"] for line in data["lines"]] == [0, 0, 0, 1, 1, 1]
    first = data["lines"][0]
    assert first["text"] == "line 0" and first["confidence"] == 0.5
    assert len(first["polygon"]) >= 3 and len(first["baseline"]) == 2
    assert all(0 <= x < result.width and 0 <= y < result.height for x, y in first["polygon"])


def test_page_xml_line_index_and_reading_order_agree_within_each_region(page):
    """PAGE's TextLine/@index is the line's position in its region, as Transkribus's custom
    readingOrder is; they disagreed in the second column (page-wide 3, 4, 5 against 0, 1, 2)."""
    from xml.etree.ElementTree import fromstring

    root = fromstring(to_page_xml(page[0]))
    regions = [element for element in root.iter() if element.tag.endswith("TextRegion")]
    assert len(regions) == 2
    for region in regions:
        lines = [element for element in region if element.tag.endswith("TextLine")]
        assert [line.get("index") for line in lines] == [str(n) for n in range(len(lines))]
        assert [line.get("custom") for line in lines] == [f"readingOrder {{index:{n};}}" for n in range(len(lines))]


@pytest.mark.parametrize("name, serialize", [("page", to_page_xml), ("alto", to_alto)])
def test_xml_validates_against_its_schema(schemas, page, blank, name, serialize):
    for result in (page[0], blank):
        errors = [str(error).splitlines()[0] for error in schemas[name].iter_errors(serialize(result).decode("utf-8"))]
        assert errors == []


def test_a_file_name_that_is_not_utf8_gives_files_that_parse(schemas, page):
    """Regression: a Latin-1 name, which Python reads with lone surrogates for its bytes, went
    into PAGE and ALTO as ``&#56553;`` (refused by every XML parser) and stopped the JSON file
    with UnicodeEncodeError."""
    from xml.etree.ElementTree import fromstring

    name = "\udce9t\udce9.png"  # os.fsdecode(b"\xe9t\xe9.png") on a UTF-8 system
    result = replace(page[0], source=f"scans/{name}")
    files = render_outputs(result, ["json", "page", "alto"])
    for suffix, schema, path in ((".page.xml", "page", "{*}Page"), (".alto.xml", "alto", ".//{*}fileName")):
        root = fromstring(files[suffix])
        element = root.find(path)
        assert (element.get("imageFilename") or element.text) == "\ufffdt\ufffd.png"
        assert [str(error) for error in schemas[schema].iter_errors(files[suffix].decode("utf-8"))] == []
    assert json.loads(files[".json"].decode("utf-8"))["image"] == f"scans/{name}", "the name comes back as it was"


def test_characters_xml_cannot_hold_become_replacement_characters(schemas, page):
    """Regression: a line read with a control character (a model whose labels held one writes
    it) or a file name with one gave PAGE and ALTO files no XML parser reads, and exit status 0."""
    from xml.etree.ElementTree import fromstring

    result = replace(page[0], source="scans/p\x02ge.png")
    read = "a\x01b\x1bc\ufffe"
    result.lines[0] = replace(result.lines[0], text=read, prediction=replace(result.lines[0].prediction, text=read, char_positions=()))
    files = render_outputs(result, ["page", "alto"])
    for suffix, schema in ((".page.xml", "page"), (".alto.xml", "alto")):
        text = "".join(fromstring(files[suffix]).itertext()) + files[suffix].decode("utf-8")
        assert "a\ufffdb\ufffdc\ufffd" in text and "p\ufffdge.png" in text
        assert [str(error) for error in schemas[schema].iter_errors(files[suffix].decode("utf-8"))] == []


@pytest.mark.parametrize("fmt, suffix", [("page", ".page.xml"), ("alto", ".alto.xml")])
def test_xml_reads_back_with_our_readers(tmp_path, page, fmt, suffix):
    result, image = page
    cv2.imwrite(str(tmp_path / "two columns.png"), image)
    (written,) = write_outputs(result, tmp_path / "two columns", [fmt])
    assert written.name == f"two columns{suffix}"
    samples = [entry for entry in read_entries(parse_spec(f"{fmt}:{written}")) if isinstance(entry, Sample)]
    assert [sample.text for sample in samples] == [line.text for line in result.lines]
    assert [sample.polygon for sample in samples] == [tuple(map(tuple, line.polygon)) for line in result.lines]
    assert all(sample.path.name == "two columns.png" for sample in samples)


def test_overlay_png_is_written(tmp_path, page):
    result, image = page
    (path,) = write_outputs(result, tmp_path / "out" / "page", ["overlay"], image=image)
    assert path.name == "page.overlay.png"
    overlay = cv2.imread(str(path))
    assert overlay.shape == (*image.shape, 3)
    coloured = np.abs(overlay.astype(int) - overlay.mean(axis=2, keepdims=True)).max(axis=2) > 60
    assert coloured.sum() > 500, "the polygons are drawn in colour on the grey page"


def test_all_formats_at_once(tmp_path, page):
    result, image = page
    written = write_outputs(result, tmp_path / "p", ["text", "json", "page", "alto", "overlay"], image=image)
    assert sorted(path.name for path in written) == sorted(
        ["p.txt", "p.json", "p.page.xml", "p.alto.xml", "p.overlay.png"]
    )


def test_bad_requests_are_one_clear_error(tmp_path, page):
    result, _ = page
    with pytest.raises(LinescribeError, match="'pdf'"):
        write_outputs(result, tmp_path / "p", ["pdf"])
    with pytest.raises(ImageError, match="two columns.png.*overlay image is 10x10"):
        write_outputs(result, tmp_path / "p", ["overlay"], image=np.zeros((10, 10), np.uint8))
