"""Ink or paper for every pixel of a photographed or scanned page.

A photo is lit unevenly, so no single grey level separates ink from paper everywhere. The paper's
own brightness is estimated first (a grey closing removes the strokes, which are thin and dark)
and every pixel is divided by it; on that flat page one Otsu threshold works. The threshold is
capped well below the paper's level, so a blank page's grain never turns into ink.

A negative (light writing on dark film) is found by reading the page both ways round
(``is_negative``); the segmenter turns it positive first.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_FRACTION = 1 / 30
"""Size of the closing that estimates the paper, as a fraction of the image's longer side: far
wider than any pen stroke, far narrower than a lighting gradient."""

LINE_IMAGE_HEIGHT = 96
"""An image no taller (or narrower) than this is a word or line crop, about one line high: 1/30
of its longer side can be thinner than its strokes, and the paper estimate would swallow them,
so its closing is at least a third of its shorter side. Pages keep the 1/30 rule (a floor there
lost lines on the stacked real test lines of benchmarks/segmentation.py)."""

STRIP_BACKGROUND = 4
"""Widest the closing is, in shorter sides of the image: no stroke is wider than the image is
high, and 1/30 of a very long strip (a line 400 times as long as high, or a 26,000 x 1 upload) is a
closing thousands of pixels wide that takes seconds to minutes and removes no more ink."""

MAX_INK_LEVEL = 0.78
"""Darkest a pixel may be, relative to the paper under it, and still count as paper; Otsu's level
is used when it is darker. Paper grain and JPEG noise stay within about 10 % of the paper."""

NEGATIVE_INK = 0.1
"""Least share of a negative that is ink when it is read as dark writing on light paper: the dark
ground between its strokes is, while writing rarely covers a tenth of a page or line image."""

NEGATIVE_RATIO = 0.5
"""A negative read the other way round (its light strokes as ink) has less than this share of the
ink read the usual way; a positive page has several times more (its paper between the strokes)."""


def paper_background(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness under every pixel, (H, W) float32, ink removed by a grey closing."""
    short_side = min(gray.shape)
    floor = short_side / 3 if short_side <= LINE_IMAGE_HEIGHT else 0
    side = min(max(max(gray.shape) * BACKGROUND_FRACTION, floor), STRIP_BACKGROUND * short_side)
    side = max(3, round(side) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    closed = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel)
    smooth = cv2.blur(closed, (side, side))
    return np.maximum(smooth.astype(np.float32), 1.0)


def normalize_lighting(gray: np.ndarray) -> np.ndarray:
    """The page divided by its paper, (H, W) uint8: paper near 255 everywhere, ink darker."""
    flat = gray.astype(np.float32) / paper_background(gray)
    return np.clip(flat * 255.0, 0, 255).astype(np.uint8)


def binarize(gray: np.ndarray) -> np.ndarray:
    """Ink mask (H, W) bool of an 8-bit grey page (0 = black ink, 255 = white paper).

    Ink is darker than Otsu's level; on a page of two grey levels (a 1-bit scan) the level is the
    darker one, and then the pixels at it are the ink (as in OpenCV's own thresholding). Taking
    them as ink on every page cost lines on benchmarks/segmentation.py's stacked real lines.
    """
    flat = normalize_lighting(gray)
    otsu, _ = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    level = min(float(otsu), MAX_INK_LEVEL * 255.0)
    ink = flat < level
    return ink if ink.any() else flat <= level


def is_negative(gray: np.ndarray, ink: np.ndarray) -> bool:
    """Whether an 8-bit grey page is light writing on a dark ground (a microfilm negative);
    ``ink`` is ``binarize(gray)``, which the caller reads a positive page with anyway.

    Read the wrong way round, a page's ground between the strokes is ink, which is much more than
    its writing. Counting dark pixels instead would take a photo of a page on a dark table, which
    may be mostly table, for a negative.
    """
    usual = float(ink.mean())
    return usual > NEGATIVE_INK and float(binarize(255 - gray).mean()) < NEGATIVE_RATIO * usual
