"""read_document: the lines of a PAGE or ALTO file read and their text written back into it, the
rest of the file as it was."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import TreeBuilder, XMLParser

import pytest
from generated import SHARED, write_document

from linescribe.data.readers import parse_spec, read_entries
from linescribe.data.sample import Sample
from linescribe.errors import DatasetError
from linescribe.inference import Prediction
from linescribe.layout import PageLine, open_document, read_document
from linescribe.layout.outputs import alto_strings

FIXTURES = Path(__file__).parents[1] / "fixtures"
PAGES_SAMPLE = SHARED / "data" / "pages-sample"
TEXT_ELEMENTS = {"TextEquiv", "String", "SP", "HYP"}
"""Where the text lives in PAGE and ALTO: the only elements reading may change."""


def _parse(data: bytes):
    """The tree with its comments (as the file has them)."""
    parser = XMLParser(target=TreeBuilder(insert_comments=True))
    parser.feed(data)
    return parser.close()


def _local(tag) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else "<comment>"


def skeleton(element) -> tuple:
    """Everything in an element but the text of its lines: tags with namespaces, attributes,
    texts and comments, recursively."""
    kept = [node for node in element if _local(node.tag) not in TEXT_ELEMENTS]
    return (element.tag if isinstance(element.tag, str) else "<comment>", dict(element.attrib),
            (element.text or "").strip(), [skeleton(node) for node in kept])


def _lines(root, name: str = "TextLine") -> list:
    return [node for node in root.iter() if _local(node.tag) == name]


def test_page_file_gets_each_line_text_and_keeps_everything_else(tmp_path, echo, schemas):
    path = write_document(tmp_path, "letter", "page")
    original = path.read_bytes()
    reading = read_document(echo, path)
    written = reading.to_xml()
    assert reading.problems == [] and echo.calls == [5]
    assert skeleton(_parse(written)) == skeleton(_parse(original))
    root = _parse(written)
    for number, line in enumerate(_lines(root)):
        (equiv,) = [node for node in line if _local(node.tag) == "TextEquiv"]
        assert equiv.get("conf") == f"{0.5 + number / 100:.4f}"
        assert [(_local(node.tag), node.text) for node in equiv] == [("Unicode", f"line {number}")]
    (region,) = _lines(root, "TextRegion")
    region_text = [node for node in region if _local(node.tag) == "TextEquiv"][0][0].text
    assert region_text == "\n".join(f"line {n}" for n in range(5))  # the region's own text agrees again
    assert b"<!-- reviewed by hand -->" in written
    assert b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' in written and b"ns0" not in written
    assert [error for error in schemas["page"].iter_errors(written.decode("utf-8"))] == []
    assert reading.page.text == "\n".join(f"line {n}" for n in range(5))
    assert path.read_bytes() == original  # reading never writes the file itself
    copy = tmp_path / "copy.xml"
    copy.write_bytes(written)
    (tmp_path / "copy.png").write_bytes((tmp_path / "letter.png").read_bytes())
    samples = [entry for entry in read_entries(parse_spec(f"page:{copy}")) if isinstance(entry, Sample)]
    assert [sample.text for sample in samples] == [f"line {n}" for n in range(5)]


def test_alto_file_gets_words_with_boxes_inside_their_line(tmp_path, echo, schemas):
    path = write_document(tmp_path, "letter", "alto")
    original = path.read_bytes()
    written = read_document(echo, path).to_xml()
    assert skeleton(_parse(written)) == skeleton(_parse(original))
    ids = [node.get("ID") for node in _parse(written).iter() if node.get("ID")]
    assert len(ids) == len(set(ids))
    for number, line in enumerate(_lines(_parse(written))):
        words = [node for node in line if _local(node.tag) in TEXT_ELEMENTS]
        assert [_local(node.tag) for node in words] == ["String", "SP", "String"]  # the old HYP went with the old words
        assert [node.get("CONTENT") for node in words[::2]] == ["line", str(number)]
        left, top = int(line.get("HPOS")), int(line.get("VPOS"))
        right, bottom = left + int(line.get("WIDTH")), top + int(line.get("HEIGHT"))
        for word in words[::2]:
            x, y = int(word.get("HPOS")), int(word.get("VPOS"))
            assert left <= x <= x + int(word.get("WIDTH")) <= right
            assert top <= y <= y + int(word.get("HEIGHT")) <= bottom
            assert word.get("WC") == "0.9000"
        assert int(words[0].get("HPOS")) < int(words[2].get("HPOS"))
    assert b'xmlns:xlink="http://www.w3.org/1999/xlink"' in written and b"<!-- one column -->" in written
    assert [error for error in schemas["alto"].iter_errors(written.decode("utf-8"))] == []


def test_lines_that_cannot_be_cropped_are_reported_and_the_others_read(tmp_path, echo):
    path = write_document(tmp_path, "letter", "page")
    text = path.read_text(encoding="utf-8")
    first = text.index('<Coords points="', text.index('id="r1l1"'))
    end = text.index('"/>', first)
    text = text[:first] + '<Coords points="5,5 6,6 7,7' + text[end:]  # no area
    first = text.index('<Coords points="', text.index('id="r1l3"'))
    end = text.index('"/>', first)
    text = text[:first] + '<Coords points="9000,9000 9100,9000 9100,9050' + text[end:]  # off the page
    path.write_text(text, encoding="utf-8")
    reading = read_document(echo, path)
    assert reading.problems == [
        f"{path} line r1l1: degenerate polygon (no area)",
        f"{path} line r1l3: polygon 9000,9000-9100,9050 lies outside the {reading.page.width}x{reading.page.height} page",
    ]
    assert [line.index for line in reading.page.lines] == [0, 2, 4]
    texts = [line[-1][0].text for line in _lines(_parse(reading.to_xml()))]
    assert texts == ["line 0", "old text 1", "line 1", "old text 3", "line 2"]  # unread lines keep their text


def test_a_missing_page_image_is_one_problem_and_nothing_is_read(tmp_path, echo):
    path = write_document(tmp_path, "letter", "alto", image=False)
    reading = read_document(echo, path)
    assert reading.problems == [
        f"{path}: page image 'letter.png' not found beside it or in the two folders above; its 5 lines were not read"
    ]
    assert reading.page.lines == [] and echo.calls == []


def test_files_that_are_not_safe_page_or_alto_are_refused(tmp_path):
    mets = tmp_path / "mets.xml"
    mets.write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")
    with pytest.raises(DatasetError, match="mets.xml: root element is mets, not PcGts"):
        open_document(mets)
    with pytest.raises(DatasetError, match="billion_laughs.xml: unsafe XML refused"):
        open_document(FIXTURES / "page" / "invalid" / "billion_laughs.xml")
    with pytest.raises(DatasetError, match="mm10_units.xml: MeasurementUnit is 'mm10'"):
        open_document(FIXTURES / "alto" / "invalid" / "mm10_units.xml")


def test_words_without_positions_fall_back_to_one_string_in_the_line_box():
    polygon = ((10, 20), (110, 20), (110, 50), (10, 50))
    line = PageLine(0, "two words", 0.8, polygon, (), 0, Prediction("x", "two words", 0.8))
    (string,) = alto_strings(line, str, lambda number: f"s{number}")
    assert string.attrib == {"ID": "s0", "CONTENT": "two words", "WC": "0.8000", "HPOS": "10", "VPOS": "20", "WIDTH": "100", "HEIGHT": "30"}


@pytest.mark.skipif(not PAGES_SAMPLE.is_dir(), reason="../shared/data/pages-sample is not here")
@pytest.mark.parametrize("sample", ["hooker/JDH_2_16_33_003.xml", "copiste/wikitexte_0006.xml"])
def test_real_exports_keep_their_structure(echo, sample):
    """A Transkribus PAGE export and an eScriptorium ALTO export: every line read, nothing else changed."""
    path = PAGES_SAMPLE / sample
    reading = read_document(echo, path)
    assert reading.problems == []
    assert len(reading.page.lines) == len(open_document(path).layout.lines) > 0
    assert skeleton(_parse(reading.to_xml())) == skeleton(_parse(path.read_bytes()))


def test_prefixed_namespaces_keep_their_prefix(tmp_path, echo):
    """OCR-D writes PAGE with a ``pc:`` prefix: the new elements take it too."""
    import re

    path = write_document(tmp_path, "letter", "page")
    text = path.read_text(encoding="utf-8").replace('xmlns="', 'xmlns:pc="')
    path.write_text(re.sub(r"<(/?)([A-Za-z])", r"<\1pc:\2", text), encoding="utf-8")
    written = read_document(echo, path).to_xml()
    assert b"<pc:TextEquiv conf=" in written and b"<pc:Unicode>line 0</pc:Unicode>" in written
    assert b"ns0" not in written and b'xmlns:pc="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"' in written
    assert skeleton(_parse(written)) == skeleton(_parse(path.read_bytes()))
