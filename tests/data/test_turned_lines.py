"""Steep lines of page datasets (marginal notes written up the page, diagonal notes) are read
turned level, as the line sets of ../shared were cut; flatter ones as they lie."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from linescribe.data.images import ROTATE_ABOVE, baseline_angle, crop_line, crop_polygon, load_sample_image, steep_angle
from linescribe.data.readers import parse_spec, read_entries
from linescribe.data.sample import Sample


def _text_line() -> np.ndarray:
    line = Image.new("L", (300, 40), 220)
    ImageDraw.Draw(line).text((5, 8), "Hello vertical world", fill=20, font_size=24)
    return np.asarray(line)


def test_angles_of_baselines() -> None:
    assert baseline_angle(((0, 10), (100, 10))) == 0.0
    assert baseline_angle(((10, 100), (10, 0))) == -90.0  # written bottom to top
    assert baseline_angle(((0, 0), (100, 100))) == pytest.approx(45.0)
    assert steep_angle(((0, 0), (100, 30))) == 0.0  # 16.7 degrees: read as it lies
    assert steep_angle(((0, 0), (100, 40))) == pytest.approx(21.8, abs=0.1) and ROTATE_ABOVE == 20.0
    assert steep_angle(((5, 5),)) == steep_angle(()) == 0.0  # no baseline: read as it lies
    assert steep_angle(((100, 10), (0, 10))) == steep_angle(((100, 0), (0, 30))) == 0.0  # points listed right to left
    assert steep_angle(((100, 0), (0, 50))) == pytest.approx(153.4, abs=0.1)  # steep either way: turned


@pytest.mark.parametrize("turns, baseline", [(1, ((232, 395), (232, 105))), (3, ((208, 105), (208, 395)))])
def test_a_vertical_line_is_read_level(turns: int, baseline: tuple) -> None:
    """A line written up (or down) the page comes out as it was written: the same ink columns,
    its text left to right."""
    line = _text_line()
    page = np.full((600, 400), 220, np.uint8)
    page[100:400, 200:240] = np.rot90(line, turns)
    polygon = ((200, 100), (240, 100), (240, 400), (200, 400))
    level = crop_line(page, polygon, steep_angle(baseline))
    assert crop_polygon(page, polygon).shape[0] > 300  # as it lies: tall and narrow
    assert level.shape[1] > 300 and level.shape[0] < 50
    ink = (level < 128).any(axis=0)
    reference = (line < 128).any(axis=0)
    assert abs(int(ink.sum()) - int(reference.sum())) <= 3
    first_ink = np.argmax(ink) - np.argmax(reference)
    assert np.array_equal(ink[first_ink : first_ink + 300][:250], reference[:250])  # same order: not mirrored


def test_real_diagonal_marginal_notes_come_out_wide(shared_data: Path) -> None:
    """mss19 f235's marginal notes (23-68 degrees): as they lay they were cut as upright boxes."""
    entries = read_entries(parse_spec(str(shared_data / "pages-sample" / "mss19" / "f235.xml")))
    turned = [entry for entry in entries if isinstance(entry, Sample) and entry.angle]
    assert len(turned) == 4
    for sample in turned:
        image = load_sample_image(sample)
        assert image.shape[1] > 1.8 * image.shape[0], (sample.id, image.shape)
        assert abs(image.shape[1] - sample.size_hint[0]) <= 0.1 * image.shape[1] + 20  # the hint knows the turn


def test_a_turned_line_reads_top_side_up() -> None:
    """At 45 degrees too the line comes out with its first ink on the left and its text upright
    (ink in the upper part of the crop where the reference has it)."""
    line = _text_line()
    page = np.full((500, 500), 220, np.uint8)
    turned = np.asarray(Image.fromarray(line).rotate(-45, expand=True, fillcolor=220))  # descending to the right
    page[100 : 100 + turned.shape[0], 100 : 100 + turned.shape[1]] = turned
    h, w = turned.shape
    polygon = ((100, 100), (100 + w, 100), (100 + w, 100 + h), (100, 100 + h))
    level = crop_line(page, polygon, 45.0)
    rows = np.nonzero((level < 128).any(axis=1))[0]
    reference_rows = np.nonzero((line < 128).any(axis=1))[0]
    assert abs(int(np.ptp(rows)) - int(np.ptp(reference_rows))) <= 4  # level: the text is as tall as written
    columns = (level[rows.min() : rows.max() + 1] < 128).sum(axis=0)
    reference = (line < 128).sum(axis=0)
    start = int(np.argmax(columns > 0))
    assert np.corrcoef(columns[start : start + 250], reference[np.argmax(reference > 0) :][:250])[0, 1] > 0.8  # not mirrored
