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
    """Segmenting costs little: the page's text is about as right as its lines read one by one."""
    reference = "\n".join(PAGE_TEXTS)
    result = read_page(default_model, printed_page().image)
    alone = "\n".join(prediction.text for prediction in default_model.predict([render_line(text) for text in PAGE_TEXTS]))
    assert len(result.lines) == len(PAGE_TEXTS)
    assert char_distance(reference, result.text) <= char_distance(reference, alone) + 0.1 * len(reference)


def test_unreadable_page_names_the_file(tmp_path, echo):
    broken = tmp_path / "page.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ImageError, match="page.jpg"):
        read_page(echo, broken)
