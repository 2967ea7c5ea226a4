"""Random distortions of training lines, so the model learns handwriting rather than one scan.

Each op imitates a real difference between writers or scans: letter width (stretch), slant
(shear), baseline angle (rotate), wobbly strokes (elastic), pen width (stroke), focus (blur),
sensor grain (noise) and ink/paper tone (contrast, brightness). They run on the raw grayscale
line before ``Preprocessing``, which normalizes ink and paper again afterwards. Geometric ops
grow the canvas instead of cutting ink, and fill it with the line's own paper grey, so no white
or black frame tells the model that a line was augmented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from linescribe.errors import LinescribeError

PAPER_PERCENTILE = 90.0
"""Grey level below which 90% of a line's pixels lie: its paper, as in ``Preprocessing``."""

ELASTIC_SPACING = 0.5
"""Distance between the control points of the elastic field, in line heights: about a letter."""

MIN_BLUR_SIGMA = 0.4
"""Below this a neighbour gets under 4% of the gaussian weight: a uint8 line barely changes
(the lower end of the blur drawn for a REFERENCE_HEIGHT line)."""

REFERENCE_HEIGHT = 96
"""Line height (px) at which the pixel-sized strengths (stroke, blur, noise) apply as given.

Lines of other heights get them scaled by height / REFERENCE_HEIGHT, so that after the resize to
the model's height a 64 px line is thickened, blurred and grained as much as a 96 px one, not
1.5 times as much."""


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of each op; a strength of 0 (or a (1, 1) range) turns that op off.

    Each op fires on a line with chance ``probability``, independently of the others, and then
    draws its strength uniformly up to the maximum given here. Lengths are relative to the line
    height (shear, elastic), or given in pixels of a ``REFERENCE_HEIGHT`` line and scaled to the
    actual one (stroke, blur, noise), so that no op's strength depends on the scan resolution.
    """

    probability: float = 0.5
    stretch: tuple[float, float] = (0.8, 1.2)
    """Range of the width scale factor: narrow and wide writing."""
    shear: float = 0.4
    """Max |slant|: x shift per unit of height (0.4 is about 22 degrees)."""
    rotate: float = 1.5
    """Max |rotation| in degrees: baselines that are not level."""
    elastic: float = 0.05
    """Max displacement of the smooth random field, as a fraction of the line height."""
    stroke: int = 1
    """Max morphology radius in pixels: thickening adds up to 2 * stroke to the pen width,
    thinning removes up to stroke (thin strokes would vanish otherwise); for a REFERENCE_HEIGHT
    line."""
    blur: float = 1.0
    """Max gaussian sigma in pixels of a REFERENCE_HEIGHT line."""
    noise: float = 8.0
    """Max std of the gaussian pixel noise, in grey levels (at REFERENCE_HEIGHT: resizing a
    taller line averages its grain away, a shorter one keeps more of it)."""
    contrast: tuple[float, float] = (0.6, 1.2)
    """Range of the factor on the ink-to-paper difference: faint and dark inks."""
    brightness: float = 25.0
    """Max |shift| of all grey levels: darker and lighter paper."""

    def __post_init__(self) -> None:
        # lists come back from JSON and the CLI; store tuples so the config stays hashable
        object.__setattr__(self, "stretch", tuple(self.stretch))
        object.__setattr__(self, "contrast", tuple(self.contrast))
        if not 0.0 <= self.probability <= 1.0:
            raise LinescribeError(f"augment probability must be in [0, 1], not {self.probability}")
        for name in ("stretch", "contrast"):
            low, high = getattr(self, name)
            if not 0.0 < low <= high:
                raise LinescribeError(f"augment {name} must be a range with 0 < low <= high, not {(low, high)}")
        for name in ("shear", "rotate", "elastic", "stroke", "blur", "noise", "brightness"):
            if getattr(self, name) < 0:
                raise LinescribeError(f"augment {name} must be >= 0 (0 turns it off), not {getattr(self, name)}")
        if self.stroke != int(self.stroke):
            raise LinescribeError(f"augment stroke is a radius in whole pixels, not {self.stroke}")
        if self.rotate > 45:
            raise LinescribeError(f"augment rotate is in degrees and must be <= 45, not {self.rotate}")
        if self.elastic >= ELASTIC_SPACING / 2:
            raise LinescribeError(
                f"augment elastic is a fraction of the line height; above {ELASTIC_SPACING / 2} the field folds "
                f"strokes over each other, got {self.elastic}"
            )


class Augmenter:
    """Applies the ops of a config to a line in a fixed order, each with its own coin flip.

    Order: pen width, one affine warp (stretch, shear and rotate together: one interpolation and
    one canvas), elastic field, blur, tone, noise. All randomness comes from the ``rng`` passed
    in, so a seeded generator per sample gives reproducible epochs in any worker.
    """

    def __init__(self, config: AugmentConfig = AugmentConfig()) -> None:
        self.config = config

    def __call__(self, gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """gray (H, W) uint8, ink dark -> augmented (H', W') uint8, ink dark.

        The input is never modified; it is returned as is when no op fires.
        """
        if gray.ndim != 2 or gray.dtype != np.uint8 or gray.size == 0:
            raise ValueError(f"expected a non-empty (H, W) uint8 line image, got {gray.dtype} {gray.shape}")
        config = self.config
        if config.probability == 0:
            return gray
        paper = _paper_grey(gray)
        scale = gray.shape[0] / REFERENCE_HEIGHT
        out = gray
        if config.stroke and self._fires(rng):
            out = _change_stroke(out, config.stroke, scale, rng)
        linear = self._affine(rng)
        if linear is not None:
            out = _warp_affine(out, linear, paper)
        if config.elastic and self._fires(rng):
            out = _distort(out, rng.uniform(0.0, config.elastic), paper, rng)
        if config.blur and self._fires(rng):
            sigma = rng.uniform(min(MIN_BLUR_SIGMA, config.blur), config.blur) * scale
            out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma)
        if self._tone_enabled() and self._fires(rng):
            factor = rng.uniform(*config.contrast)
            shift = rng.uniform(-config.brightness, config.brightness)
            out = _adjust_tone(out, paper, factor, shift)
        if config.noise and self._fires(rng):
            out = _add_noise(out, rng.uniform(0.0, config.noise * scale), rng)
        return out

    def _fires(self, rng: np.random.Generator) -> bool:
        return bool(rng.random() < self.config.probability)

    def _tone_enabled(self) -> bool:
        return self.config.contrast != (1.0, 1.0) or self.config.brightness > 0

    def _affine(self, rng: np.random.Generator) -> np.ndarray | None:
        """The 2x2 stretch, shear and rotation that fired, composed; None if none did."""
        config = self.config
        linear = np.eye(2)
        fired = False
        if config.stretch != (1.0, 1.0) and self._fires(rng):
            linear = np.array([[rng.uniform(*config.stretch), 0.0], [0.0, 1.0]]) @ linear
            fired = True
        if config.shear and self._fires(rng):
            linear = np.array([[1.0, rng.uniform(-config.shear, config.shear)], [0.0, 1.0]]) @ linear
            fired = True
        if config.rotate and self._fires(rng):
            angle = math.radians(rng.uniform(-config.rotate, config.rotate))
            cos, sin = math.cos(angle), math.sin(angle)
            linear = np.array([[cos, -sin], [sin, cos]]) @ linear
            fired = True
        return linear if fired else None


def _paper_grey(gray: np.ndarray) -> int:
    """The paper's grey level, from a histogram (much faster than np.percentile)."""
    counts = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
    cumulative = np.cumsum(counts)
    return int(np.searchsorted(cumulative, cumulative[-1] * PAPER_PERCENTILE / 100.0))


def _change_stroke(gray: np.ndarray, radius: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """A thicker or thinner pen: min filter (ink spreads) or max filter (ink shrinks).

    Thinning uses at most half the kernel of thickening: 2-3 px strokes, common at 96 px line
    height, would be erased by a 3x3 max filter. A kernel of k pixels changes the pen width by
    k - 1: that change, drawn for a ``REFERENCE_HEIGHT`` line, is scaled to this one and rounded
    up or down at random, in proportion, so that its mean scales exactly; a one-pixel kernel
    leaves the line as it is.
    """
    thicken = rng.random() < 0.5
    width_change = (int(rng.integers(2, 2 * radius + 2 if thicken else radius + 2)) - 1) * scale
    size = 1 + math.floor(width_change + rng.random())
    if size < 2:
        return gray
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.erode(gray, kernel) if thicken else cv2.dilate(gray, kernel)


def _warp_affine(gray: np.ndarray, linear: np.ndarray, paper: int) -> np.ndarray:
    """Applies a 2x2 linear map on a canvas just large enough to hold the whole warped line."""
    height, width = gray.shape
    corners = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [-0.5, height - 0.5], [width - 0.5, height - 0.5]])
    moved = corners @ linear.T
    low, high = moved.min(axis=0), moved.max(axis=0)
    out_width, out_height = (max(1, math.ceil(extent - 1e-6)) for extent in high - low)
    matrix = np.hstack([linear, (-0.5 - low)[:, None]])
    return cv2.warpAffine(
        gray, matrix, (out_width, out_height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=paper
    )


def _distort(gray: np.ndarray, amount: float, paper: int, rng: np.random.Generator) -> np.ndarray:
    """Moves pixels along a smooth random field: strokes wobble and letters change shape.

    Random shifts on a coarse grid of control points, about a letter apart, are upsampled with
    cubic interpolation into a dense field: cheap, and smooth at the scale of a letter.
    """
    height, width = gray.shape
    spacing = max(height * ELASTIC_SPACING, 4.0)
    grid_shape = (int(height / spacing) + 2, int(width / spacing) + 2, 2)
    limit = amount * height
    shifts = rng.uniform(-limit, limit, size=grid_shape).astype(np.float32)
    field = cv2.resize(shifts, (width, height), interpolation=cv2.INTER_CUBIC).reshape(height, width, 2)
    map_x = field[:, :, 0] + np.arange(width, dtype=np.float32)
    map_y = field[:, :, 1] + np.arange(height, dtype=np.float32)[:, None]
    return cv2.remap(gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=paper)


def _adjust_tone(gray: np.ndarray, paper: int, factor: float, shift: float) -> np.ndarray:
    """Scales the ink's distance from the paper grey, then shifts everything: one lookup table."""
    levels = np.arange(256, dtype=np.float32)
    table = np.clip(np.rint(paper + factor * (levels - paper) + shift), 0, 255).astype(np.uint8)
    return cv2.LUT(gray, table)


def _add_noise(gray: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Independent gaussian noise per pixel, rounded and saturated to uint8."""
    noise = rng.standard_normal(gray.shape, dtype=np.float32)
    noise *= std
    return cv2.add(gray, noise, dtype=cv2.CV_8U)
