"""Classical line segmentation on generated pages whose true lines are known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from generated import SHARED_LINES, render_line
from generated import PAGE_TEXTS, printed_page
from PIL import Image, features

from linescribe.data.synth import LineSynthesizer
from linescribe.errors import ImageError, LinescribeError
from linescribe.layout import SegmentOptions, segment_page
from linescribe.layout.binarize import binarize, is_negative
from linescribe.layout.metrics import match_lines
from linescribe.layout.reading_order import line_spacing
from linescribe.layout.segment import CANVAS_BUDGET, _canvas_pixels, _long_runs, _seam, _straight_strokes, estimate_skew, text_unit


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


def test_strips_a_few_pixels_across_give_no_lines():
    """A few-KB upload of a 26,000 x 2 strip held a server worker for minutes of filtering."""
    noise = np.random.default_rng(0).integers(0, 256, (26000, 2)).astype(np.uint8)
    for strip in (noise, noise.T.copy(), np.zeros((25600, 7), np.uint8)):
        assert segment_page(strip).lines == []


def test_a_rule_is_never_longer_than_the_image_and_runs_are_found_as_an_opening_finds_them():
    """OpenCV's border let a whole column pass for a rule longer than the image; and the run
    lengths that replace its opening (pixels x length: half a minute on a long strip) must find
    what it finds, a run at the image's edge needing half the length."""
    column = np.ones((40, 3), np.uint8)
    assert not _straight_strokes(column, across=10, down=100).any()
    assert _straight_strokes(column, across=10, down=30).all()
    rng = np.random.default_rng(1)
    for _ in range(100):
        height, width = rng.integers(1, 60, 2)
        mask = (rng.random((height, width)) < rng.uniform(0.3, 0.97)).astype(np.uint8)
        length = int(rng.integers(0, 20)) * 2 + 1  # odd: OpenCV shifts an even line's opening by a pixel
        for axis, line, extent in ((1, np.ones((1, length), np.uint8), width), (0, np.ones((length, 1), np.uint8), height)):
            opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, line) if length <= extent else np.zeros_like(mask)
            assert np.array_equal(_long_runs(mask, length, axis), opened)


def test_a_long_strip_is_levelled_only_by_tilts_its_canvas_allows():
    """A 32 x 20,800 noise strip turned 10 degrees made a 75 M pixel canvas to filter."""
    assert _canvas_pixels(1600, 1600, 45.0) <= CANVAS_BUDGET  # a square page turns as far as allowed
    assert _canvas_pixels(20800, 32, 10.0) > CANVAS_BUDGET
    strip = (np.random.default_rng(2).random((20800, 32)) < 0.5)
    assert abs(estimate_skew(strip, 10.0)) < 1.0


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


@pytest.mark.parametrize("suffix, options", [(".png", {}), (".tif", {"compression": "group4"})])
def test_one_bit_scans_find_their_lines(tmp_path, suffix, options):
    """Regression: on a page of two grey levels Otsu's threshold is the darker level, and only
    pixels darker than it were ink: 1-bit scans (Group 4 TIFF, 1-bit PNG) gave no lines."""
    if suffix == ".tif" and not features.check("libtiff"):
        pytest.skip("this Pillow writes no Group 4 TIFF")
    page = printed_page(seed=4)
    size = (page.image.shape[1], page.image.shape[0])
    path = tmp_path / f"scan{suffix}"
    Image.fromarray(page.image).point(lambda value: 255 if value > 128 else 0).convert("1").save(path, **options)
    assert_found_in_order(segment_page(path).lines, page.polygons, size)
    two_tone = np.where(page.image > 128, 220, 60).astype(np.uint8)
    assert_found_in_order(segment_page(two_tone).lines, page.polygons, size)


def test_seam_stays_inside_the_image_where_line_centres_cross():
    """Regression: where two lines' centres cross, the band between them can lie outside the
    image; every row was forbidden and the path walked off it (IndexError on noisy images)."""
    assert _seam(np.ones((4, 10)), np.full(10, 4.5), np.full(10, 4.5)).tolist() == [3] * 10
    jump = np.r_[np.zeros(5), np.full(5, 10.0)]
    path = _seam(np.ones((20, 10)), jump, jump)
    assert path.min() >= 0 and path.max() < 20 and np.abs(np.diff(path)).max() <= 2
    noise = ((np.random.default_rng(9).random((150, 600)) > 0.9) * 255).astype(np.uint8)
    segment_page(cv2.GaussianBlur(noise, (0, 0), 1.0))


@pytest.mark.parametrize("text, width, height", [("no", 100, 60), ("ou", 96, 96), ("o", 57, 96)])
def test_word_images_keep_strokes_wider_than_a_thirtieth_of_them(text, width, height):
    """Regression: the paper was estimated with a closing 1/30 of the longer side, narrower than
    the strokes of a word image about 100 px long, so it swallowed the ink: no line."""
    image = np.full((height, width), 208, np.uint8)
    cv2.putText(image, text, (6, int(height * 0.7)), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 120, 7, cv2.LINE_AA)
    assert binarize(image).sum() > 0.9 * (image < 170).sum()
    assert len(segment_page(image).lines) == 1


WORD_CROP = SHARED_LINES / "hooker" / "test" / "JDH_2_16_145_001_r2l3.webp"


@pytest.mark.skipif(not WORD_CROP.is_file(), reason="../shared/data/lines is not here")
def test_a_small_word_crop_gives_its_line():
    """The 57x96 crop that gave no line (and one once padded with paper)."""
    assert len(segment_page(WORD_CROP).lines) == 1


def test_a_cursive_word_as_wide_as_its_image_is_a_line():
    """A one-word image's word is one component spanning its width, which alone was taken for a
    rule or a page edge: no text size, no line."""
    image = np.full((60, 200), 230, np.uint8)
    xs = np.arange(6, 194)
    stroke = np.stack([xs, 30 + 10 * np.sin(xs / 6.0)], axis=1).round().astype(np.int32)
    cv2.polylines(image, [stroke], False, 40, 4, cv2.LINE_AA)
    assert len(segment_page(image).lines) == 1


def test_a_photo_of_a_page_on_a_dark_table_finds_its_lines():
    """Regression: the dark table next to the page is ink to the binariser (a ring around the
    page), and that one component's area outweighed the writing: the text unit was the page's
    height and the page one line."""
    page = printed_page()
    height, width = page.image.shape
    margin = int(0.3 * max(height, width))
    photo = np.full((height + 2 * margin, width + 2 * margin), 30, np.uint8)
    photo[margin : margin + height, margin : margin + width] = page.image
    assert text_unit(binarize(photo)) == text_unit(binarize(page.image))
    truth = [tuple((x + margin, y + margin) for x, y in polygon) for polygon in page.polygons]
    assert_found_in_order(segment_page(photo).lines, truth, photo.shape[::-1])


def _cursive_page(lines: int = 6) -> np.ndarray:
    """Lines of wavy strokes, each word one wide ink component as in joined-up handwriting."""
    rng = np.random.default_rng(0)
    page = np.full((60 + 45 * lines, 640), 225, np.uint8)
    for row in range(lines):
        left = 30
        for _ in range(4):
            xs = np.arange(left, left + int(rng.integers(90, 140)))
            word = np.stack([xs, 50 + 45 * row + 7 * np.sin(xs / 5.0)], axis=1).round().astype(np.int32)
            cv2.polylines(page, [word], False, 40, 3, cv2.LINE_AA)
            left = int(xs[-1]) + 20
    return page


def test_a_steeply_skewed_page_is_measured_level():
    """Regression: the text unit was measured before deskewing, where a tilted word's box is as
    tall as its width times the sine of the skew: at 30 degrees lines were merged in pairs."""
    page = _cursive_page()
    height, width = page.shape
    side = int(np.hypot(height, width)) + 10
    canvas = np.full((side, side), 225, np.uint8)
    canvas[(side - height) // 2 : (side + height) // 2, (side - width) // 2 : (side + width) // 2] = page
    tilted = cv2.warpAffine(canvas, cv2.getRotationMatrix2D((side / 2, side / 2), 30, 1.0), (side, side), borderValue=225)
    result = segment_page(tilted, SegmentOptions(max_skew=45))
    assert result.skew == pytest.approx(30, abs=0.5)
    assert len(result.lines) == 6


def test_a_negative_is_read_as_its_positive():
    """Light writing on dark film (a microfilm negative) gave the ground between the letters as
    ink: one line for the page. Its lines are found, and cropped positive for the recognizer."""
    page = printed_page(seed=5)
    lines = segment_page(255 - page.image).lines
    assert_found_in_order(lines, page.polygons, page.image.shape[::-1])
    assert all(np.percentile(line.image, 50) > 150 for line in lines), "dark writing on light paper"
    assert not is_negative(page.image, binarize(page.image))


def test_a_very_long_strip_keeps_its_line():
    """Regression: a strip 650 times as long as high was brought down to 1600 pixels long and
    hence 2 high, which held no line."""
    strip = np.tile(np.asarray(render_line("the cat sat on the mat")), (1, 100))
    [line] = segment_page(strip).lines
    _, _, line_width, _ = cv2.boundingRect(np.array(line.polygon, np.int32))
    assert line_width > 0.95 * strip.shape[1]


def _peaks_against_every_kept_one(profile, floor, min_distance):
    """The rule _peaks applies, checked against every stronger peak kept (as it was written first)."""
    from linescribe.layout.segment import VALLEY_RATIO

    inner = profile[1:-1]
    candidates = np.flatnonzero((inner >= profile[:-2]) & (inner > profile[2:]) & (inner >= floor)) + 1
    kept = []
    for row in sorted(candidates.tolist(), key=lambda r: -profile[r]):
        if all(
            abs(row - other) >= min_distance
            and profile[min(row, other) : max(row, other) + 1].min() <= VALLEY_RATIO * profile[row]
            for other in kept
        ):
            kept.append(row)
    return sorted(kept)


@pytest.mark.parametrize("seed", range(20))
def test_peaks_checked_against_their_nearest_neighbours_are_the_same_peaks(seed):
    """_peaks compares a peak with the nearest kept ones only (against all: quadratic in a strip of
    hundreds of lines); a farther one is farther and its valley no higher, so nothing changes."""
    from linescribe.layout.segment import _peaks

    rng = np.random.default_rng(seed)
    profile = cv2.GaussianBlur(rng.random((400, 1)).astype(np.float32) ** 3, (1, 0), sigmaX=0.1, sigmaY=2.0).ravel()
    assert _peaks(profile, 0.05, 6.0) == _peaks_against_every_kept_one(profile, 0.05, 6.0)


def test_a_long_strip_of_many_lines_is_cut_into_them_in_order():
    """Regression: a 2,000-row strip of 199 marks took 24 s (whole-block masks per line, every pair
    of lines and peaks compared); and a strip of 400 bands searched 80,000 runs of them for columns."""
    from linescribe.layout.reading_order import find_blocks

    strip = np.full((2000, 40), 255, np.uint8)
    for y in range(4, 1992, 10):
        strip[y : y + 5, 4:30] = 0
    lines = segment_page(strip).lines
    assert len(lines) == 199
    centres = [np.mean([y for _, y in line.polygon]) for line in lines]
    assert centres == sorted(centres)
    ink = np.zeros((8000, 32), bool)
    for y in range(2, 7992, 20):
        ink[y : y + 5, 4:26] = True
    assert len(find_blocks(ink, 5.0)) == 400


def test_line_iou_is_counted_in_each_polygons_box_and_off_the_page_is_nothing():
    """iou_matrix rasterises each polygon within its box (a page-sized mask per polygon: 2.3 GB for
    300 lines); the figures are the page masks' own."""
    from linescribe.layout.metrics import iou_matrix

    square = [(0, 0), (9, 0), (9, 9), (0, 9)]  # 10 x 10 pixels, edges included
    shifted = [(5, 0), (14, 0), (14, 9), (5, 9)]
    off_page = [(500, 500), (520, 500), (520, 520)]
    ious = iou_matrix([square, off_page], [shifted, square], (100, 50))
    assert ious == pytest.approx(np.array([[50 / 150, 1.0], [0.0, 0.0]]))
