"""Ink or paper for every pixel of a photographed or scanned page.

A photo is lit unevenly, so no single grey level separates ink from paper everywhere. The paper's
own brightness is estimated first (a grey closing removes the strokes, which are thin and dark)
and every pixel is divided by it; on that flat page one Otsu threshold works. The threshold is
capped well below the paper's level, so a blank page's grain never turns into ink.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_FRACTION = 1 / 30
"""Size of the closing that estimates the paper, as a fraction of the image's longer side: far
wider than any pen stroke, far narrower than a lighting gradient."""

SHORT_SIDE_FRACTION = 1 / 3
"""The closing is never narrower than this fraction of the image's shorter side (up to
``SHORT_SIDE_LIMIT``): a word or line image is about one line high, so 1/30 of its longer side can
be thinner than its strokes, and the paper estimate would swallow them."""

SHORT_SIDE_LIMIT = 32
"""Widest closing (pixels) the shorter side may ask for, well over a broad pen's stroke (about
12 px at 300 dpi). An image over 960 px long gets at least this from its longer side, so only word
and line images and small pages change."""

MAX_INK_LEVEL = 0.78
"""Darkest a pixel may be, relative to the paper under it, and still count as paper; Otsu's level
is used when it is darker. Paper grain and JPEG noise stay within about 10 % of the paper."""


def paper_background(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness under every pixel, (H, W) float32, ink removed by a grey closing."""
    short_side = min(min(gray.shape) * SHORT_SIDE_FRACTION, SHORT_SIDE_LIMIT)
    side = max(3, round(max(max(gray.shape) * BACKGROUND_FRACTION, short_side)) | 1)
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

    Pixels at Otsu's level are ink, as in OpenCV's own thresholding: on a page of two grey levels
    (a 1-bit scan) the level is the darker one, and ``<`` would find no ink at all.
    """
    flat = normalize_lighting(gray)
    otsu, _ = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    level = min(float(otsu), MAX_INK_LEVEL * 255.0)
    return flat <= level
