"""read_page: segment, recognise every line in one batch, keep the reading order."""

from __future__ import annotations

import numpy as np
import pytest
from generated import render_line
from generated import PAGE_TEXTS, printed_page

import linescribe
from linescribe.errors import ImageError
from linescribe.layout import read_page
from linescribe.metrics import char_distance


@pytest.fixture(scope="module")
def default_model():
    return linescribe.load_model()


def test_lines_are_read_in_one_batch_in_order(echo):
    result = read_page(echo, printed_page().image)
    assert echo.calls == [len(PAGE_TEXTS)]
    assert [line.index for line in result.lines] == list(range(len(PAGE_TEXTS)))
    assert result.text == "\n".join(f"line {n}" for n in range(len(PAGE_TEXTS)))
    assert result.lines[2].prediction.text == "line 2"


def test_blank_page_reads_as_nothing(echo):
    result = read_page(echo, np.full((400, 300), 230, np.uint8))
    assert (result.lines, result.text, echo.calls) == ([], "", [])


def test_single_line_image_in_page_mode(default_model):
    image = render_line("the cat sat on the mat")
    result = read_page(default_model, image)
    assert len(result.lines) == 1
    assert char_distance("the cat sat on the mat", result.lines[0].text) <= 4
    assert 0.0 < result.lines[0].confidence <= 1.0


def test_page_reads_about_as_well_as_its_lines(default_model):
    """Segmenting costs little: over three layouts of a page its text is about as right as its
    lines read one by one. (Measured: the cut-out lines cost the default model, v7 and v8 alike,
    5-16 more errors per page of 93 characters than the lines rendered alone, mostly spaces;
    lines read out of order, merged or cut through cost several times that.)"""
    reference = "\n".join(PAGE_TEXTS)
    alone = "\n".join(prediction.text for prediction in default_model.predict([render_line(text) for text in PAGE_TEXTS]))
    results = [read_page(default_model, printed_page(seed=seed).image) for seed in range(3)]
    assert [len(result.lines) for result in results] == [len(PAGE_TEXTS)] * 3
    page_errors = sum(char_distance(reference, result.text) for result in results)
    assert page_errors <= 3 * (char_distance(reference, alone) + 0.2 * len(reference))


def test_unreadable_page_names_the_file(tmp_path, echo):
    broken = tmp_path / "page.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ImageError, match="page.jpg"):
        read_page(echo, broken)


def test_the_recognizer_reads_pages_itself_with_each_characters_place(default_model, schemas):
    """``recognizer.read_page`` is ``read_page``; its lines' characters are placed on the page, and
    ALTO gets a box per word inside its line's box."""
    from xml.etree.ElementTree import fromstring

    from linescribe.layout import PageResult, to_alto, to_json

    page = default_model.read_page(printed_page().image, source="letter.png")
    assert isinstance(page, PageResult) and page.source == "letter.png" and len(page.lines) == len(PAGE_TEXTS)
    for line in page.lines:
        xs, ys = [x for x, _ in line.polygon], [y for _, y in line.polygon]
        margin = max(ys) - min(ys)  # the line's image is cut a little wider than its outline
        positions = line.char_positions
        assert len(positions) == len(line.text) > 0
        assert all(min(xs) - margin <= start < end <= max(xs) + margin for start, end in positions), (positions, xs)
        assert [start for start, _ in positions] == sorted(start for start, _ in positions)
    assert to_json(page)["lines"][0]["char_positions"] == [list(p) for p in page.lines[0].char_positions]
    alto = to_alto(page)
    assert [error for error in schemas["alto"].iter_errors(alto.decode("utf-8"))] == []
    lines = [node for node in fromstring(alto).iter() if node.tag.endswith("}TextLine")]
    assert len(lines) == len(PAGE_TEXTS)
    for line in lines:
        box = [int(line.get(name)) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT")]
        words = [node for node in line if node.tag.endswith("}String")]
        assert len(words) >= 2
        for word in words:
            x, y, width, height = (int(word.get(name)) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            assert box[0] <= x <= x + width <= box[0] + box[2] and box[1] <= y <= y + height <= box[1] + box[3]
