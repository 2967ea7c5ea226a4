"""read_document: the lines of a PAGE or ALTO file read and their text written back into it, the
rest of the file as it was."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import TreeBuilder, XMLParser

import pytest
from generated import SHARED, write_document
from layout_pages import spread
from PIL import Image

from linescribe.data.readers import parse_spec, read_entries
from linescribe.data.sample import Sample
from linescribe.errors import DatasetError
from linescribe.inference import Prediction
from linescribe.layout import PageLine, PageResult, find_documents, open_document, read_document, to_alto, to_json
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


def _equivs(line) -> list:
    return [node for node in line if _local(node.tag) == "TextEquiv"]


def test_page_file_gets_each_line_text_and_keeps_everything_else(tmp_path, echo, schemas):
    """Lines that had text keep it first (readers still take it) and get ours after it."""
    path = write_document(tmp_path, "letter", "page")
    original = path.read_bytes()
    reading = read_document(echo, path)
    written = reading.to_xml()
    assert reading.problems == [] and echo.calls == [5]
    assert skeleton(_parse(written)) == skeleton(_parse(original))
    root = _parse(written)
    for number, line in enumerate(_lines(root)):
        old, ours = _equivs(line)
        assert old.attrib == {"conf": "0.5"} and [node.text for node in old] == [f"old text {number}"]
        assert ours.attrib == {"conf": f"{0.5 + number / 100:.4f}", "comments": "linescribe"}  # no @index: the old one has none
        assert [(_local(node.tag), node.text) for node in ours] == [("Unicode", f"line {number}")]
    (region,) = _lines(root, "TextRegion")
    assert _equivs(region)[0][0].text == "old region text"  # its lines' main text did not change
    assert b"<!-- reviewed by hand -->" in written
    assert b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' in written and b"ns0" not in written
    assert [error for error in schemas["page"].iter_errors(written.decode("utf-8"))] == []
    assert reading.page.text == "\n".join(f"line {n}" for n in range(5))
    assert path.read_bytes() == original  # reading never writes the file itself
    assert _read_back(tmp_path, written) == [f"old text {n}" for n in range(5)]


def _read_back(folder: Path, written: bytes) -> list[str]:
    """The lines' texts as the training reader reads the written file."""
    copy = folder / "copy.xml"
    copy.write_bytes(written)
    (folder / "copy.png").write_bytes((folder / "letter.png").read_bytes())
    return [entry.text for entry in read_entries(parse_spec(f"page:{copy}")) if isinstance(entry, Sample)]


def test_empty_text_equivs_make_way_and_a_rerun_replaces_our_text(tmp_path, echo, schemas):
    """Lines without text get ours as their text, the region's own text follows, and reading the
    written file again replaces our earlier text instead of adding to it."""
    import re

    path = write_document(tmp_path, "letter", "page")
    text = re.sub(r"<Unicode>old text [0-2]</Unicode>", "<Unicode/>", path.read_text(encoding="utf-8"))
    text = re.sub(r"\s*<TextEquiv conf=\"0.5\">\s*<Unicode>old text [34]</Unicode>\s*</TextEquiv>", "", text)
    path.write_text(text, encoding="utf-8")
    written = read_document(echo, path).to_xml()
    for number, line in enumerate(_lines(_parse(written))):
        (equiv,) = _equivs(line)
        assert equiv.attrib == {"conf": f"{0.5 + number / 100:.4f}", "comments": "linescribe"}
        assert [node.text for node in equiv] == [f"line {number}"]
    (region,) = _lines(_parse(written), "TextRegion")
    assert _equivs(region)[0][0].text == "\n".join(f"line {n}" for n in range(5))
    assert [error for error in schemas["page"].iter_errors(written.decode("utf-8"))] == []
    assert _read_back(tmp_path, written) == [f"line {n}" for n in range(5)]
    path.write_bytes(written)
    again = read_document(echo, path).to_xml()
    assert again == written  # ours replaced by ours: nothing piles up


def test_ground_truth_and_indexed_alternatives_are_kept_before_ours(tmp_path, echo, schemas):
    """A line with TextEquivs ordered by @index keeps them all as they were; ours comes after
    with the next @index, so the lowest, the ground truth, stays the line's text."""
    path = write_document(tmp_path, "letter", "page")
    text = path.read_text(encoding="utf-8").replace(
        '<TextEquiv conf="0.5">\n          <Unicode>old text 0</Unicode>\n        </TextEquiv>',
        '<TextEquiv index="1" conf="1.0" dataType="xsd:string">\n          <PlainText>gt plain</PlainText>\n'
        '          <Unicode>ground truth 0</Unicode>\n        </TextEquiv>\n'
        '        <TextEquiv index="4" conf="0.3">\n          <Unicode>ocr alternative 0</Unicode>\n        </TextEquiv>',
    )
    path.write_text(text, encoding="utf-8")
    written = read_document(echo, path).to_xml()
    first = _lines(_parse(written))[0]
    assert [(equiv.attrib, [node.text for node in equiv]) for equiv in _equivs(first)] == [
        ({"index": "1", "conf": "1.0", "dataType": "xsd:string"}, ["gt plain", "ground truth 0"]),
        ({"index": "4", "conf": "0.3"}, ["ocr alternative 0"]),
        ({"index": "5", "conf": "0.5000", "comments": "linescribe"}, ["line 0"]),
    ]
    assert [error for error in schemas["page"].iter_errors(written.decode("utf-8"))] == []
    assert _read_back(tmp_path, written)[0] == "ground truth 0"
    path.write_bytes(written)
    assert read_document(echo, path).to_xml() == written


def test_page_2013_lines_that_hold_text_keep_it_and_are_reported(tmp_path, echo):
    """PAGE before 2016 allows one TextEquiv per line: a line with text keeps it alone (one
    problem for the file); an empty one gets ours, without the attributes 2013 lacks."""
    path = write_document(tmp_path, "letter", "page")
    text = path.read_text(encoding="utf-8").replace("2019-07-15", "2013-07-15")
    path.write_text(text.replace("<Unicode>old text 4</Unicode>", "<Unicode></Unicode>"), encoding="utf-8")
    reading = read_document(echo, path)
    assert reading.problems == [
        f"{path}: 4 lines (r1l0, r1l1, r1l2, r1l3) already hold text and PAGE 2013-07-15 allows one TextEquiv per line: they keep it"
    ]
    assert len(reading.page.lines) == 5  # all read: the text and JSON outputs have them
    lines = _lines(_parse(reading.to_xml()))
    assert [[node.text for node in _equivs(line)[0]] for line in lines] == [*([f"old text {n}"] for n in range(4)), ["line 4"]]
    assert [len(_equivs(line)) for line in lines] == [1] * 5 and _equivs(lines[4])[0].attrib == {"conf": "0.5400"}


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
def test_real_exports_keep_their_structure(tmp_path, echo, sample):
    """A Transkribus PAGE 2013 export and an eScriptorium ALTO export: every line read, nothing
    else changed. The PAGE lines that hold their transcription keep it (PAGE 2013 allows no
    alternative), which one problem says; its empty line gets ours."""
    path = PAGES_SAMPLE / sample
    reading = read_document(echo, path)
    before = open_document(path).layout.lines
    assert len(reading.page.lines) == len(before) > 0
    assert skeleton(_parse(reading.to_xml())) == skeleton(_parse(path.read_bytes()))
    copy = tmp_path / path.name
    copy.write_bytes(reading.to_xml())
    after = open_document(copy).layout.lines
    if sample.startswith("hooker"):
        (problem,) = reading.problems
        kept = sum(bool(line.text) for line in before)
        assert f"{kept} lines (" in problem and "PAGE 2013-07-15 allows one TextEquiv per line: they keep it" in problem
        assert [new.text if old.text else "" for old, new in zip(before, after)] == [line.text for line in before]
        assert all(new.text.startswith("line ") for old, new in zip(before, after) if not old.text)
    else:
        assert reading.problems == []
        assert all(line.text.startswith("line ") for line in after)


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


class FixedRecognizer:
    """Reads the crops as the given texts, in order, and notes each crop's shape."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.shapes: list[tuple[int, ...]] = []

    def predict(self, crops):
        self.shapes += [crop.shape for crop in crops]
        return [
            Prediction(f"<crop {n}>", text, 0.7, char_confidences=(0.7,) * len(text), char_positions=spread(text, crop.shape[1]))
            for n, (text, crop) in enumerate(zip(self.texts, crops))
        ]


def test_an_alto_line_read_as_empty_keeps_its_words_and_one_without_gets_an_empty_string(tmp_path, schemas):
    """ALTO has no alternatives, so a line read as empty keeps the words it had (reported); a
    line without words read as spaces gets one String with CONTENT="", which its schema needs."""
    import re

    path = write_document(tmp_path, "letter", "alto")
    text = path.read_text(encoding="utf-8")
    start = text.index('<String ID="old_1a"')
    text = text[:start] + text[text.index("</TextLine>", start):]  # line_1 has no words
    path.write_text(text, encoding="utf-8")
    reading = read_document(FixedRecognizer(["", "  ", "two words", "x", "y"]), path)
    assert reading.problems == [f"{path} line line_0: read as empty; its text 'old words-' was kept"]
    written = reading.to_xml()
    lines = _lines(_parse(written))
    assert [(_local(node.tag), node.get("CONTENT")) for node in lines[0] if _local(node.tag) in TEXT_ELEMENTS] == [
        ("String", "old"), ("SP", None), ("String", "words"), ("HYP", "-")]
    (empty,) = [node for node in lines[1] if _local(node.tag) in TEXT_ELEMENTS]
    assert (_local(empty.tag), empty.get("CONTENT")) == ("String", "")
    assert [node.get("CONTENT") for node in lines[2] if _local(node.tag) == "String"] == ["two", "words"]
    assert re.findall(rb"<!-- one column -->", written) and [error for error in schemas["alto"].iter_errors(written.decode("utf-8"))] == []


def test_a_line_of_spaces_is_one_empty_string_in_new_alto_too(schemas):
    polygon = ((10, 20), (110, 20), (110, 50), (10, 50))
    line = PageLine(0, "  ", 0.3, polygon, (), 0, Prediction("x", "  ", 0.3, char_positions=((10, 60), (60, 100))))
    (string,) = alto_strings(line, str, lambda number: f"s{number}")
    assert string.get("CONTENT") == ""
    page = PageResult("page.png", 200, 100, 0.0, [line])
    assert [error for error in schemas["alto"].iter_errors(to_alto(page).decode("utf-8"))] == []


def test_a_page_image_of_another_size_is_read_with_the_coordinates_scaled(tmp_path):
    """A reduced copy of the scan: the lines are cropped where they are on it, and the page keeps
    the file's coordinates; an image of another shape is refused, naming both sizes."""
    path = write_document(tmp_path, "letter", "page")
    image = Image.open(tmp_path / "letter.png")
    width, height = image.size
    full = FixedRecognizer(["a b"] * 5)
    before = read_document(full, path).page
    image.resize((width // 2, height // 2)).save(tmp_path / "letter.png")
    half = FixedRecognizer(["a b"] * 5)
    reading = read_document(half, path)
    assert reading.problems == [] and (reading.page.width, reading.page.height) == (width, height)
    for (big_height, big_width), (small_height, small_width) in zip(full.shapes, half.shapes):
        assert abs(small_height - big_height / 2) <= 2 and abs(small_width - big_width / 2) <= 2  # a pixel of margin each side
    declared = [line.points for line in open_document(path).layout.lines]
    assert [line.polygon for line in reading.page.lines] == [tuple((int(x), int(y)) for x, y in points) for points in declared]
    for line, same in zip(reading.page.lines, before.lines):  # the characters' columns are the file's too
        assert all(abs(a - b) <= 3 for ours, theirs in zip(line.char_positions, same.char_positions) for a, b in zip(ours, theirs))
    image.resize((width, height // 2)).save(tmp_path / "letter.png")
    squashed = FixedRecognizer(["a b"] * 5)
    reading = read_document(squashed, path)
    assert reading.problems == [
        f"{path}: page image letter.png is {width}x{height // 2} but the file gives {width}x{height}, another shape: its 5 lines were not read"
    ]
    assert reading.page.lines == [] and squashed.shapes == []


@pytest.mark.parametrize("fmt", ["page", "alto"])
def test_a_dataset_of_pages_crops_a_reduced_scan_where_its_lines_are(tmp_path, fmt):
    """Training and eval read PAGE/ALTO pages as read_document does: coordinates scaled to a
    reduced copy of the scan, and every line of an image of another shape skipped with the reason."""
    from linescribe.data.images import load_sample_image

    path = write_document(tmp_path, "letter", fmt)
    image = Image.open(tmp_path / "letter.png")
    width, height = image.size
    full = [load_sample_image(sample) for sample in read_entries(parse_spec(str(path)))]
    image.resize((width // 2, height // 2)).save(tmp_path / "letter.png")
    entries = list(read_entries(parse_spec(str(path))))
    assert len(entries) == len(full) == 5 and all(isinstance(entry, Sample) for entry in entries)
    for big, entry in zip(full, entries):
        small = load_sample_image(entry)
        assert abs(small.shape[0] - big.shape[0] / 2) <= 2 and abs(small.shape[1] - big.shape[1] / 2) <= 2
    image.resize((width, height // 2)).save(tmp_path / "letter.png")
    reasons = {entry.reason for entry in read_entries(parse_spec(str(path)))}
    assert reasons == {f"page image of another shape: letter.png is {width}x{height // 2}, the file's page {width}x{height}"}


@pytest.mark.skipif(not PAGES_SAMPLE.is_dir(), reason="../shared/data/pages-sample is not here")
def test_steep_lines_of_a_page_are_read_turned_level():
    """mss19 f235's four diagonal marginal notes reach the recognizer level (wide, not as upright
    boxes); their characters get no page columns, which a turned line has not."""
    path = PAGES_SAMPLE / "mss19" / "f235.xml"
    lines = open_document(path).layout.lines
    recognizer = FixedRecognizer(["a b"] * len(lines))
    reading = read_document(recognizer, path)
    assert reading.problems == [] and len(reading.page.lines) == len(lines)
    unplaced = [line for line in reading.page.lines if not line.char_positions]
    assert len(unplaced) == 4
    for line in unplaced:
        height, width = recognizer.shapes[line.index]
        assert width > 1.8 * height
    assert all(len(line.char_positions) == 3 for line in reading.page.lines if line not in unplaced)


def test_a_baseline_that_is_not_finite_is_left_out_of_the_json(tmp_path, echo):
    import json
    import re

    path = write_document(tmp_path, "letter", "page")
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'<Baseline points="[^"]*"', '<Baseline points="nan,53 1e999,53"', text, count=1), encoding="utf-8")
    reading = read_document(echo, path)
    assert reading.problems == [] and reading.page.lines[0].baseline == () and reading.page.lines[1].baseline != ()
    json.dumps(to_json(reading.page), allow_nan=False)  # strict JSON


def test_comments_and_processing_instructions_around_the_root_are_kept(tmp_path, echo):
    path = write_document(tmp_path, "letter", "page")
    text = path.read_text(encoding="utf-8").replace(
        "?>\n<PcGts", '?>\n<?xml-stylesheet type="text/xsl" href="page.xsl"?>\n<!-- exported by hand -->\n<PcGts', 1
    )
    path.write_text(text + "<!-- the end -->\n", encoding="utf-8")
    written = read_document(echo, path).to_xml().decode("utf-8")
    assert written.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet type="text/xsl" href="page.xsl"?>\n'
                              "<!-- exported by hand -->\n<PcGts ")
    assert written.endswith("</PcGts>\n<!-- the end -->\n")
    _parse(written.encode("utf-8"))


def test_broken_and_unsafe_xml_files_are_found_as_problems_and_other_xml_left_out(tmp_path):
    """A damaged or hostile .xml beside the pages could be a page: each is a problem; METS and
    other XML is left out silently, and so is the excluded (output) folder."""
    page = write_document(tmp_path, "p1", "page")
    write_document(tmp_path / "out", "p1", "page")
    (tmp_path / "mets.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")
    (tmp_path / "broken.xml").write_text("<PcGts", encoding="utf-8")
    (tmp_path / "laughs.xml").write_bytes((FIXTURES / "page" / "invalid" / "billion_laughs.xml").read_bytes())
    documents, problems = find_documents(tmp_path, exclude=tmp_path / "out")
    assert documents == [str(page)]
    assert problems == [
        f"{tmp_path / 'broken.xml'}: malformed XML: unclosed token: line 1, column 0",
        f"{tmp_path / 'laughs.xml'}: unsafe XML refused (EntitiesForbidden)",
    ]
    assert find_documents(tmp_path)[0] == [str(page), str(tmp_path / "out" / "p1.xml")]


@pytest.mark.parametrize("fmt", ["page", "alto"])
def test_a_reading_with_a_control_character_is_written_back_as_xml_that_parses(tmp_path, schemas, fmt):
    """Regression: a line read with a control character (a model whose labels held one writes it)
    made the written-back PAGE or ALTO file unreadable."""
    path = write_document(tmp_path, "letter", fmt)
    written = read_document(FixedRecognizer(["a\x01b", "x", "y", "z", "w"]), path).to_xml()
    assert "a\ufffdb" in written.decode("utf-8")
    assert [str(error) for error in schemas[fmt].iter_errors(written.decode("utf-8"))] == []
