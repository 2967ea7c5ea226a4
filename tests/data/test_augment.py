"""Augmentation must vary lines without ever cutting, erasing or inverting their ink."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from linescribe.data.augment import AugmentConfig, Augmenter
from linescribe.errors import LinescribeError

PAPER, INK = 205, 60
INK_THRESHOLD = (PAPER + INK) // 2
REAL_LINES = Path("/work/shared/data/lines/hooker/train")

ALL_OFF = dict(
    probability=1.0,
    stretch=(1.0, 1.0),
    shear=0.0,
    rotate=0.0,
    elastic=0.0,
    stroke=0,
    blur=0.0,
    noise=0.0,
    contrast=(1.0, 1.0),
    brightness=0.0,
)
ONE_OP = {
    "stretch": dict(stretch=(0.8, 1.2)),
    "shear": dict(shear=0.4),
    "rotate": dict(rotate=1.5),
    "elastic": dict(elastic=0.05),
    "stroke": dict(stroke=1),
    "blur": dict(blur=1.0),
    "noise": dict(noise=8.0),
    "tone": dict(contrast=(0.6, 1.2), brightness=25.0),
}


def only(**strengths: object) -> Augmenter:
    """An augmenter that always applies the given ops and nothing else."""
    return Augmenter(AugmentConfig(**{**ALL_OFF, **strengths}))


def ink_count(gray: np.ndarray) -> int:
    return int((gray < INK_THRESHOLD).sum())


def text_line(width: int = 400, height: int = 96) -> np.ndarray:
    """Beige paper with dark writing kept 10 px away from every border."""
    line = np.full((height, width), PAPER, np.uint8)
    cv2.putText(line, "Minimum lorem", (10, height - 30), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.6, INK, 3, cv2.LINE_AA)
    return line


def framed_line(width: int = 300, height: int = 96) -> np.ndarray:
    """Ink along all four borders: any warp that crops the canvas loses some of it."""
    line = np.full((height, width), PAPER, np.uint8)
    line[:3, :] = line[-3:, :] = line[:, :3] = line[:, -3:] = INK
    return line


def test_same_seed_gives_same_output() -> None:
    augmenter = Augmenter(AugmentConfig(probability=1.0))
    first = augmenter(text_line(), np.random.default_rng(7))
    second = augmenter(text_line(), np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)


def test_different_seeds_give_different_outputs() -> None:
    augmenter = Augmenter()
    outputs = [augmenter(text_line(), np.random.default_rng(seed)) for seed in range(6)]
    distinct = {(out.shape, out.tobytes()) for out in outputs}
    assert len(distinct) == len(outputs)


def test_probability_zero_returns_input_unchanged() -> None:
    line = text_line()
    out = Augmenter(AugmentConfig(probability=0.0))(line, np.random.default_rng(0))
    np.testing.assert_array_equal(out, text_line())


def test_input_is_never_modified() -> None:
    line = text_line()
    for seed in range(5):
        Augmenter(AugmentConfig(probability=1.0))(line, np.random.default_rng(seed))
    np.testing.assert_array_equal(line, text_line())


def test_output_is_a_uint8_line_with_ink_and_paper() -> None:
    augmenter = Augmenter(AugmentConfig(probability=1.0))
    for seed in range(20):
        out = augmenter(text_line(), np.random.default_rng(seed))
        assert out.dtype == np.uint8 and out.ndim == 2 and min(out.shape) >= 1
        assert np.percentile(out, 2) < INK_THRESHOLD < np.percentile(out, 90), f"seed {seed}: ink or paper lost"


@pytest.mark.parametrize("op", ["shear", "rotate"])
def test_slant_and_rotation_keep_all_ink(op: str) -> None:
    augmenter = only(**{op: ONE_OP[op][op] * 4})
    for seed in range(10):
        line = framed_line()
        out = augmenter(line, np.random.default_rng(seed))
        assert out.shape[0] >= line.shape[0] and out.shape[1] >= line.shape[1]
        assert 0.85 < ink_count(out) / ink_count(line) < 1.15, f"seed {seed}: ink cut off"


@pytest.mark.parametrize("op", ["shear", "rotate", "elastic"])
def test_geometric_ops_fill_with_paper_and_keep_margins(op: str) -> None:
    augmenter = only(**ONE_OP[op])
    for seed in range(10):
        line = text_line()
        out = augmenter(line, np.random.default_rng(seed))
        borders = np.concatenate([out[0], out[-1], out[:, 0], out[:, -1]])
        assert np.all(np.abs(borders.astype(int) - PAPER) <= 1), f"seed {seed}: border is not paper"
        assert 0.85 < ink_count(out) / ink_count(line) < 1.15


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.2, 1.5])
def test_stretch_scales_the_width_only(factor: float) -> None:
    out = only(stretch=(factor, factor))(text_line(width=400), np.random.default_rng(0))
    assert out.shape == (96, round(400 * factor))


def test_stroke_thickens_and_thins_the_ink() -> None:
    line = text_line()
    ratios = [ink_count(only(stroke=1)(line, np.random.default_rng(seed))) / ink_count(line) for seed in range(20)]
    assert any(ratio > 1.2 for ratio in ratios), "no seed thickened the strokes"
    assert any(ratio < 0.8 for ratio in ratios), "no seed thinned the strokes"
    assert all(abs(ratio - 1) > 0.1 for ratio in ratios)


def test_thinning_keeps_two_pixel_strokes() -> None:
    line = np.full((40, 200), PAPER, np.uint8)
    cv2.line(line, (10, 20), (190, 25), INK, 2)
    for seed in range(20):
        assert ink_count(only(stroke=1)(line, np.random.default_rng(seed))) > 0, f"seed {seed} erased the stroke"


def test_contrast_scales_ink_relative_to_paper() -> None:
    out = only(contrast=(0.5, 0.5))(text_line(), np.random.default_rng(0))
    assert np.percentile(out, 90) == PAPER
    assert out.min() == round(PAPER - 0.5 * (PAPER - INK))


def test_brightness_shifts_paper_within_bounds() -> None:
    augmenter = only(brightness=25.0)
    shifts = {int(np.median(augmenter(text_line(), np.random.default_rng(seed)))) - PAPER for seed in range(10)}
    assert all(abs(shift) <= 25 for shift in shifts) and len(shifts) > 1


def test_noise_is_bounded_gaussian_grain() -> None:
    line = text_line()
    out = only(noise=8.0)(line, np.random.default_rng(1))
    difference = out.astype(np.float64) - line
    assert 0 < difference.std() <= 8.5 and abs(difference.mean()) < 0.5


def test_blur_softens_edges_without_moving_ink() -> None:
    line = text_line()
    out = only(blur=1.0)(line, np.random.default_rng(0))
    assert out.shape == line.shape and not np.array_equal(out, line)
    assert out.min() >= INK and out.max() <= PAPER


@pytest.mark.parametrize("shape", [(1, 1), (1, 200), (2, 50), (96, 3), (5, 5)])
@pytest.mark.parametrize("op", [*ONE_OP, "all"])
def test_tiny_images_survive_every_op(shape: tuple[int, int], op: str) -> None:
    augmenter = Augmenter(AugmentConfig(probability=1.0)) if op == "all" else only(**ONE_OP[op])
    rng = np.random.default_rng(0)
    for image in (np.full(shape, PAPER, np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)):
        out = augmenter(image, rng)
        assert out.dtype == np.uint8 and out.ndim == 2 and min(out.shape) >= 1


@pytest.mark.parametrize(
    "bad",
    [
        dict(probability=1.5),
        dict(stretch=(1.2, 0.8)),
        dict(contrast=(0.0, 1.0)),
        dict(shear=-0.1),
        dict(stroke=-1),
        dict(stroke=1.5),
        dict(rotate=90.0),
        dict(elastic=0.5),
    ],
)
def test_invalid_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(LinescribeError, match=next(iter(bad))):
        AugmentConfig(**bad)


def test_config_from_json_lists_is_hashable() -> None:
    config = AugmentConfig(stretch=[0.9, 1.1], contrast=[0.7, 1.0])  # type: ignore[arg-type]
    assert config.stretch == (0.9, 1.1) and hash(config)


def test_non_line_input_is_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        Augmenter()(np.zeros((4, 4, 3), np.uint8), np.random.default_rng(0))


@pytest.mark.skipif(not REAL_LINES.is_dir(), reason="shared real line images not present")
def test_real_line_stays_legible() -> None:
    from linescribe.data.images import load_gray
    from linescribe.data.preprocess import Preprocessing

    line = load_gray(next(iter(sorted(REAL_LINES.glob("*.webp")))))
    low, paper = np.percentile(line, (2, 90))
    threshold = (low + paper) / 2
    ink = int((line < threshold).sum())
    augmenter = Augmenter(AugmentConfig(probability=1.0))
    for seed in range(10):
        out = augmenter(line, np.random.default_rng(seed))
        height, width = out.shape
        assert line.shape[0] <= height <= 1.6 * line.shape[0]
        assert 0.7 * line.shape[1] <= width <= 1.5 * line.shape[1]
        out_low, out_paper = np.percentile(out, (2, 90))
        assert out_paper - out_low > 40, f"seed {seed}: ink faded into the paper"
        assert 0.3 < (out < (out_low + out_paper) / 2).sum() / ink < 3.0
        assert Preprocessing()(out).max() == 1.0


def test_grain_scales_with_the_line_height() -> None:
    """A 48 px line gets half the grain of a 96 px one: as much as the 96 px one keeps after the resize."""
    tall, short = text_line(height=96), text_line(height=48)
    grain = [(only(noise=8.0)(line, np.random.default_rng(3)).astype(np.float64) - line).std() for line in (tall, short)]
    assert grain[1] / grain[0] == pytest.approx(0.5, abs=0.05)


def test_blur_scales_with_the_line_height() -> None:
    """The same line scanned at twice the size is blurred twice as wide: alike once resized."""
    line = text_line()
    doubled = cv2.resize(line, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    for seed in range(5):
        blurred = only(blur=1.0)(line, np.random.default_rng(seed)).astype(np.float64)
        blurred_doubled = cv2.resize(only(blur=1.0)(doubled, np.random.default_rng(seed)), line.shape[::-1], interpolation=cv2.INTER_AREA)
        plain_doubled = cv2.resize(doubled, line.shape[::-1], interpolation=cv2.INTER_AREA)
        change = [np.abs(blurred - line).mean(), np.abs(blurred_doubled.astype(np.float64) - plain_doubled).mean()]
        assert change[1] == pytest.approx(change[0], rel=0.25), f"seed {seed}: mean change {change}"


def test_stroke_change_is_proportional_to_the_line_height() -> None:
    line = text_line()
    doubled = cv2.resize(line, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    for seed in range(10):  # the pen width changes by as many pixels of the 96 px line at either size
        ratios = [ink_count(only(stroke=1)(image, np.random.default_rng(seed))) / ink_count(image) for image in (line, doubled)]
        assert 0.75 < np.log(ratios[1]) / np.log(ratios[0]) < 1.33, f"seed {seed}: ink ratios {ratios}"


def test_pen_width_change_scales_on_average_at_fractional_scales(monkeypatch) -> None:
    """At 64 px the pen widens or narrows by 2/3 of what it does at 96 px, on average: kernels
    are rounded up or down at random, not always down to nothing."""
    from linescribe.data import augment

    def mean_width_change(height: int) -> float:
        sizes: list[int] = []
        real = augment.cv2.getStructuringElement
        monkeypatch.setattr(augment.cv2, "getStructuringElement", lambda shape, size: sizes.append(size[0]) or real(shape, size))
        rng, draws = np.random.default_rng(0), 4000
        for _ in range(draws):
            augment._change_stroke(np.full((height, 8), PAPER, np.uint8), 1, height / augment.REFERENCE_HEIGHT, rng)
        monkeypatch.undo()
        return sum(size - 1 for size in sizes) / draws  # a skipped (one-pixel) kernel changes nothing

    assert mean_width_change(64) / mean_width_change(96) == pytest.approx(2 / 3, rel=0.05)
