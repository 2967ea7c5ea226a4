"""Reading order: columns left to right, lines top to bottom within a column."""

from __future__ import annotations

import numpy as np
from generated import TWO_COLUMNS, printed_page

from linescribe.layout import SegmentOptions, segment_page
from linescribe.layout.metrics import match_lines
from linescribe.layout.reading_order import find_blocks


def test_two_columns_are_read_one_after_the_other():
    page = printed_page(TWO_COLUMNS, seed=3, columns=2, line_gap=(0.1, 0.3))
    result = segment_page(page.image)
    score, pairs = match_lines([line.polygon for line in result.lines], page.polygons, page.image.shape[::-1])
    assert score.matched == score.found == score.truth == 6
    assert sorted(pairs) == [(n, n) for n in range(6)], "found lines in the true reading order"
    assert [line.block for line in result.lines] == [0, 0, 0, 1, 1, 1]


def test_one_column_option_reads_across():
    page = printed_page(TWO_COLUMNS, seed=3, columns=2, line_gap=(0.1, 0.3))
    result = segment_page(page.image, SegmentOptions(columns=False))
    assert {line.block for line in result.lines} == {0}


def test_heading_above_two_columns_comes_first():
    ink = np.zeros((400, 600), bool)
    ink[20:45, 50:550] = True  # heading across both columns
    for top in range(100, 350, 50):
        ink[top : top + 30, 50:260] = True  # left column
        ink[top + 25 : top + 55, 340:550] = True  # right column, its lines between the left ones
    blocks = find_blocks(ink, unit=20.0)
    assert blocks == [(50, 20, 550, 45), (50, 100, 260, 330), (340, 125, 550, 355)]


def test_empty_mask_has_no_blocks():
    assert find_blocks(np.zeros((50, 50), bool), unit=10.0) == []


def test_columns_of_far_apart_lines_under_a_heading_and_over_a_footer_are_read_one_after_the_other():
    """Regression: the heading blocked the gutter, the page was cut at every gap between lines (as
    wide as BLOCK_GAP), and each band, one line high, was never looked at for columns: every left
    line was joined to the right line beside it."""
    ink = np.zeros((520, 600), bool)
    ink[20:40, 50:550] = True  # heading across both columns
    for top in range(80, 440, 60):
        ink[top : top + 20, 50:260] = True  # left column
        ink[top + 10 : top + 30, 340:550] = True  # right column, a little lower
    ink[470:490, 50:550] = True  # footer across both columns
    blocks = find_blocks(ink, unit=10.0)
    left = [(50, top, 260, top + 20) for top in range(80, 440, 60)]
    right = [(340, top + 10, 550, top + 30) for top in range(80, 440, 60)]
    assert blocks == [(50, 20, 550, 40), *left, *right, (50, 470, 550, 490)]
