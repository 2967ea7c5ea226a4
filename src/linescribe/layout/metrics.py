"""How well found lines match the true ones: one-to-one matches at a mask IoU threshold.

IoU is computed on the rasterised polygons (filled masks), not on their bounding boxes: two
slanted neighbouring lines have heavily overlapping boxes but hardly overlapping polygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from linescribe.data.sample import Point

RASTER_SIDE = 1000
"""Longer side of the grid the polygons are filled in: IoU to within a fraction of a percent, cheaply."""


@dataclass(frozen=True)
class DetectionScore:
    """Counts of one page or many; precision and recall are 1.0 when there is nothing to find."""

    found: int
    truth: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else float(self.truth == 0)

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else float(self.found == 0)

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __add__(self, other: DetectionScore) -> DetectionScore:
        return DetectionScore(self.found + other.found, self.truth + other.truth, self.matched + other.matched)


def iou_matrix(found: Sequence[Sequence[Point]], truth: Sequence[Sequence[Point]], size: tuple[int, int]) -> np.ndarray:
    """Mask IoU (len(found), len(truth)) of polygons on a page of ``size`` = (width, height)."""
    if not found or not truth:
        return np.zeros((len(found), len(truth)))
    factor = min(1.0, RASTER_SIDE / max(size))
    shape = (max(1, round(size[1] * factor)), max(1, round(size[0] * factor)))

    def masks(polygons: Sequence[Sequence[Point]]) -> np.ndarray:
        stack = np.zeros((len(polygons), shape[0] * shape[1]), np.float32)
        for row, polygon in enumerate(polygons):
            mask = np.zeros(shape, np.uint8)
            points = np.round(np.asarray(polygon, np.float64) * factor).astype(np.int32)
            cv2.fillPoly(mask, [points], 1)
            stack[row] = mask.ravel()
        return stack

    a, b = masks(found), masks(truth)
    intersection = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def match_lines(
    found: Sequence[Sequence[Point]], truth: Sequence[Sequence[Point]], size: tuple[int, int], threshold: float = 0.5
) -> tuple[DetectionScore, list[tuple[int, int]]]:
    """Greedy one-to-one matching by decreasing IoU; pairs below ``threshold`` do not match.

    Returns the counts and the matched (found index, truth index) pairs.
    """
    ious = iou_matrix(found, truth, size)
    pairs: list[tuple[int, int]] = []
    used_found: set[int] = set()
    used_truth: set[int] = set()
    for flat in np.argsort(-ious, axis=None):
        row, col = divmod(int(flat), ious.shape[1])
        if ious[row, col] < threshold:
            break
        if row not in used_found and col not in used_truth:
            pairs.append((row, col))
            used_found.add(row)
            used_truth.add(col)
    return DetectionScore(len(found), len(truth), len(pairs)), pairs
