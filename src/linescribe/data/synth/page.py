"""Synthetic pages with known lines: line images stacked on a sheet and photographed badly.

Each line image (rendered or real) is reduced to its ink, which is laid on fresh paper with
realistic spacing (sometimes so tight that descenders meet the next line's ascenders), in one or
more columns, over optional ruled lines; the sheet is then skewed, put in mild perspective, lit
unevenly and given sensor noise. Every line's true outline (the envelope of its own ink, carried
through the same geometry) and text come with the page, so line segmentation can be measured and tested without
hand-made ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from linescribe.data.sample import Point
from linescribe.errors import LinescribeError

Range = tuple[float, float]
Polygon = tuple[Point, ...]


@dataclass(frozen=True)
class PageConfig:
    """Knobs of a synthetic page; ranges are (low, high), drawn uniformly per page or per line."""

    columns: int = 1
    line_gap: Range = (-0.12, 0.3)
    """Blank between one line's lowest ink and the next one's highest, in median line heights;
    negative values make ascenders and descenders overlap."""
    skew_degrees: float = 5.0
    """Largest rotation of the sheet, either way."""
    perspective: float = 0.03
    """Largest shift of each corner of the sheet, as a fraction of its size."""
    lighting: float = 0.35
    """Largest loss of brightness across the sheet (a gradient from one side)."""
    ruled_probability: float = 0.5
    noise: float = 4.0
    """Standard deviation of the sensor noise, in grey levels."""

    def __post_init__(self) -> None:
        if self.columns < 1:
            raise LinescribeError(f"page columns must be at least 1, not {self.columns}")
        if not self.line_gap[0] <= self.line_gap[1]:
            raise LinescribeError(f"page line_gap {self.line_gap} must be (low, high) with low <= high")
        for name in ("perspective", "lighting", "ruled_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise LinescribeError(f"page {name} must be between 0 and 1, not {getattr(self, name)}")


@dataclass(frozen=True)
class SyntheticPage:
    """A page image (H, W) uint8 and its lines' outlines and texts, in reading order."""

    image: np.ndarray
    polygons: list[Polygon]
    texts: list[str]


def ink_of(line: np.ndarray) -> np.ndarray:
    """How much ink covers each pixel of a line image, (h, w) float32 in [0, 1], cropped to the ink.

    Paper is the line's 90th percentile grey and full ink its 1st percentile, so a beige crop and a
    white one give the same strokes; the faint texture of the paper counts as none. Strokes of the
    neighbouring lines that a real crop cuts at its top or bottom edge are erased, so the ink box
    is the line's own.
    """
    gray = line.astype(np.float32)
    paper, dark = np.percentile(gray, 90), np.percentile(gray, 1)
    alpha = np.clip((paper - gray) / max(paper - dark, 1.0), 0.0, 1.0)
    alpha[alpha < 0.2] = 0.0
    count, labels, stats, _ = cv2.connectedComponentsWithStats((alpha > 0).astype(np.uint8), connectivity=8)
    height = alpha.shape[0]
    for label in range(1, count):
        top, extent = stats[label, cv2.CC_STAT_TOP], stats[label, cv2.CC_STAT_HEIGHT]
        if (top == 0 and top + extent < height / 4) or (top + extent == height and top > 3 * height / 4):
            alpha[labels == label] = 0.0
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0.4), np.flatnonzero(alpha.max(axis=0) > 0.4)
    if rows.size == 0:
        raise LinescribeError("a line image without ink cannot be put on a page")
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def compose_page(
    lines: Sequence[tuple[np.ndarray, str]], rng: np.random.Generator, config: PageConfig | None = None
) -> SyntheticPage:
    """A page of the given (line image, text) pairs, read in the given order (column by column)."""
    config = config or PageConfig()
    if not lines:
        raise LinescribeError("a synthetic page needs at least one line")
    inks = [ink_of(image) for image, _ in lines]
    reference = float(np.median([ink.shape[0] for ink in inks]))
    per_column = -(-len(inks) // config.columns)
    column_width = max(ink.shape[1] for ink in inks)
    gutter = int(reference * rng.uniform(2.0, 3.5))
    margin = int(reference * rng.uniform(1.0, 2.0))
    boxes: list[tuple[int, int, int, int]] = []
    bottom = 0
    for number, ink in enumerate(inks):
        column = number // per_column
        top = margin if number % per_column == 0 else bottom + int(rng.uniform(*config.line_gap) * reference)
        left = margin + column * (column_width + gutter) + int(rng.uniform(0, 0.6) * reference)
        boxes.append((left, top, ink.shape[1], ink.shape[0]))
        bottom = top + ink.shape[0]
    width = max(left + w for left, _, w, _ in boxes) + margin
    height = max(top + h for _, top, _, h in boxes) + margin
    paper = _paper(height, width, rng)
    if rng.random() < config.ruled_probability:
        _rule(paper, reference, rng)
    ink_tone = rng.uniform(10, 70)
    for ink, (left, top, w, h) in zip(inks, boxes):
        region = paper[top : top + h, left : left + w]
        region[:] = region * (1 - ink) + ink_tone * ink
    polygons = [_outline(ink) + (left, top) for ink, (left, top, _, _) in zip(inks, boxes)]
    image, polygons = _photograph(paper, polygons, config, rng)
    return SyntheticPage(
        image=image,
        polygons=[tuple((float(x), float(y)) for x, y in polygon) for polygon in polygons],
        texts=[text for _, text in lines],
    )


def _outline(ink: np.ndarray) -> np.ndarray:
    """The outline (N, 2) of a line's own ink, drawn as annotators do: the highest and lowest ink in
    slices a quarter of the line's height wide, each widened to its neighbours' extremes so that the
    outline runs over letters rather than between them, along the top and back along the bottom;
    slices without ink take their neighbours' heights."""
    height, width = ink.shape
    step = max(4, height // 4)
    edges = np.r_[np.arange(0, width, step), width]
    inked = ink > 0.4
    tops, bottoms, centres = [], [], []
    for start, end in pairwise(edges):
        rows = np.flatnonzero(inked[:, start:end].any(axis=1))
        if rows.size:
            tops.append(rows[0])
            bottoms.append(rows[-1] + 1)
            centres.append(start)
    slices = edges[:-1]
    top = np.interp(slices, centres, tops)
    bottom = np.interp(slices, centres, bottoms)
    top = np.minimum.reduce([np.r_[top[:1], top[:-1]], top, np.r_[top[1:], top[-1:]]])
    bottom = np.maximum.reduce([np.r_[bottom[:1], bottom[:-1]], bottom, np.r_[bottom[1:], bottom[-1:]]])
    upper = [(x, y) for start, end, y in zip(edges[:-1], edges[1:], top) for x in (start, end)]
    lower = [(x, y) for start, end, y in zip(edges[:-1], edges[1:], bottom) for x in (start, end)]
    return np.array(upper + lower[::-1], np.float64)


def _paper(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Off-white paper with a faint blotchy texture, float32."""
    base = rng.uniform(205, 245)
    texture = cv2.resize(
        rng.normal(0, 1, (max(2, height // 40), max(2, width // 40))).astype(np.float32), (width, height)
    )
    return (base + 4.0 * texture).astype(np.float32)


def _rule(paper: np.ndarray, reference: float, rng: np.random.Generator) -> None:
    """Printed horizontal rules at a regular pitch near the line spacing, in place."""
    pitch = reference * rng.uniform(0.9, 1.3)
    tone = float(paper.mean()) - rng.uniform(40, 90)
    thickness = int(rng.integers(1, 3))
    y = rng.uniform(0, pitch)
    while y < paper.shape[0]:
        cv2.line(paper, (0, int(y)), (paper.shape[1] - 1, int(y)), tone, thickness)
        y += pitch


def _photograph(
    sheet: np.ndarray, polygons: list[np.ndarray], config: PageConfig, rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sheet skewed, in perspective, lit from one side and noisy; the polygons moved with it."""
    height, width = sheet.shape
    paper = float(np.median(sheet))
    angle = rng.uniform(-config.skew_degrees, config.skew_degrees)
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(rotation[0, 0]), abs(rotation[0, 1])
    size = (int(np.ceil(width * cos + height * sin)), int(np.ceil(width * sin + height * cos)))
    rotation[:, 2] += ((size[0] - width) / 2, (size[1] - height) / 2)
    corners = np.array([(0, 0), (size[0], 0), (size[0], size[1]), (0, size[1])], np.float32)
    jitter = rng.uniform(-config.perspective, config.perspective, (4, 2)) * np.array(size, np.float32)
    perspective = cv2.getPerspectiveTransform(corners, (corners + jitter).astype(np.float32))
    shift = np.eye(3)
    shift[:2, 2] = -(corners + jitter).min(axis=0)
    homography = shift @ perspective @ np.vstack([rotation, (0, 0, 1)])
    out_size = tuple(int(v) for v in np.ceil((corners + jitter).max(axis=0) - (corners + jitter).min(axis=0)))
    image = cv2.warpPerspective(sheet, homography, out_size, flags=cv2.INTER_LINEAR, borderValue=paper)
    moved = [cv2.perspectiveTransform(polygon.reshape(-1, 1, 2), homography).reshape(-1, 2) for polygon in polygons]
    direction = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0 : out_size[1], 0 : out_size[0]].astype(np.float32)
    ramp = xs / out_size[0] * np.cos(direction) + ys / out_size[1] * np.sin(direction)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    image = image * (1.0 - rng.uniform(0, config.lighting) * ramp)
    image = image + rng.normal(0, config.noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), moved
