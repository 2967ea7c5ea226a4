"""Classical line segmentation on generated pages whose true lines are known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from generated import render_line
from generated import PAGE_TEXTS, printed_page

from linescribe.data.synth import LineSynthesizer
from linescribe.errors import ImageError, LinescribeError
from linescribe.layout import SegmentOptions, segment_page
from linescribe.layout.metrics import match_lines
from linescribe.layout.reading_order import line_spacing


def assert_found_in_order(found, truth, size) -> None:
    """Every true line is found once, at IoU >= 0.5, and in the true order."""
    score, pairs = match_lines([line.polygon for line in found], truth, size)
    assert (score.found, score.truth, score.matched) == (len(truth), len(truth), len(truth)), score
    assert sorted(pairs) == [(n, n) for n in range(len(truth))]


def test_blank_pages_give_no_lines():
    white = np.full((600, 400), 255, np.uint8)
    ramp = np.linspace(120, 250, 400)[None, :] * np.ones((600, 1))
    photo = np.clip(ramp + np.random.default_rng(0).normal(0, 4, (600, 400)), 0, 255).astype(np.uint8)
    for blank in (white, photo, np.zeros((50, 50), np.uint8)):
        result = segment_page(blank)
        assert result.lines == []
        assert (result.width, result.height) == (blank.shape[1], blank.shape[0])


def test_single_line_images_give_one_line():
    synthesizer = LineSynthesizer()
    rng = np.random.default_rng(3)
    images = [np.asarray(render_line("the cat sat on the mat"))] + [synthesizer.sample(rng)[0] for _ in range(6)]
    for image in images:
        lines = segment_page(image).lines
        assert len(lines) == 1
        _, _, line_width, _ = cv2.boundingRect(np.array(lines[0].polygon, np.int32))
        assert line_width > 0.6 * image.shape[1], "the line spans the text"


def test_generated_page_lines_found_in_order():
    page = printed_page()
    result = segment_page(page.image)
    assert_found_in_order(result.lines, page.polygons, (page.image.shape[1], page.image.shape[0]))
    assert [line.block for line in result.lines] == [0] * len(PAGE_TEXTS)


@pytest.mark.parametrize("lines", [2, 3])
def test_pages_of_two_or_three_lines_are_not_merged(lines):
    """Regression: the line spacing was measured with the blank margins around the text, which
    correlate with each other and gave 2-3 times the real spacing on short pages (lines merged
    on 12 of 24 such pages)."""
    found = [len(segment_page(printed_page(PAGE_TEXTS[:lines], seed=seed).image).lines) for seed in range(6)]
    assert found == [lines] * 6


def test_line_spacing_ignores_the_blank_margins():
    line = np.r_[np.zeros(4), np.full(15, 100.0)]
    three_lines_in_wide_margins = np.r_[np.zeros(15), line, line, line, np.zeros(20)]
    assert line_spacing(three_lines_in_wide_margins, unit=15.0) == pytest.approx(19, abs=1)


@pytest.mark.parametrize("angle", [-4.0, 3.0])
def test_skewed_page_is_deskewed(angle):
    page = printed_page(seed=1)
    height, width = page.image.shape
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    image = cv2.warpAffine(page.image, rotation, (width, height), borderValue=int(np.median(page.image)))
    truth = [cv2.transform(np.array([polygon]), rotation)[0] for polygon in page.polygons]
    result = segment_page(image)
    assert result.skew == pytest.approx(angle, abs=0.5)
    assert_found_in_order(result.lines, truth, (width, height))
    level = segment_page(page.image).lines
    for tilted, flat in zip(result.lines, level):
        assert tilted.image.shape[0] <= flat.image.shape[0] + 4, "crops of the skewed page are level too"


def test_touching_lines_are_separated():
    page = printed_page(seed=2, line_gap=(-0.2, -0.1))
    assert_found_in_order(segment_page(page.image).lines, page.polygons, (page.image.shape[1], page.image.shape[0]))


def test_photo_of_ruled_paper_in_perspective():
    page = printed_page(seed=6, ruled_probability=1.0, lighting=0.45, perspective=0.03, skew_degrees=3.0, noise=5.0)
    assert_found_in_order(segment_page(page.image).lines, page.polygons, (page.image.shape[1], page.image.shape[0]))


def test_crops_are_masked_grey_images():
    page = printed_page(seed=5)
    for line in segment_page(page.image).lines:
        assert line.image.dtype == np.uint8 and line.image.ndim == 2
        assert np.percentile(line.image, 50) > 150, "mostly paper around the ink"


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(ImageError, match="missing.png"):
        segment_page(tmp_path / "missing.png")
    with pytest.raises(LinescribeError, match="max_skew"):
        SegmentOptions(max_skew=90)
