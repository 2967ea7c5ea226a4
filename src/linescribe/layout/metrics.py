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

    def masks(polygons: Sequence[Sequence[Point]]) -> list[tuple[int, int, np.ndarray]]:
        """Each polygon's mask within its box (left, top, mask): a page-sized mask per polygon took
        4 MB each, 2.3 GB for a page of 300 lines."""
        boxed = []
        for polygon in polygons:
            points = np.round(np.asarray(polygon, np.float64) * factor).astype(np.int32)
            left, top = np.maximum(points.min(axis=0), 0)
            right, bottom = np.minimum(points.max(axis=0) + 1, [shape[1], shape[0]])
            mask = np.zeros((max(bottom - top, 0), max(right - left, 0)), np.uint8)  # off the page: empty
            if mask.size:
                cv2.fillPoly(mask, [(points - [left, top]).astype(np.int32)], 1)
            boxed.append((int(left), int(top), mask.astype(bool)))
        return boxed

    a, b = masks(found), masks(truth)
    intersection = np.zeros((len(a), len(b)))
    for row, (left_a, top_a, mask_a) in enumerate(a):
        for col, (left_b, top_b, mask_b) in enumerate(b):
            left, top = max(left_a, left_b), max(top_a, top_b)
            right = min(left_a + mask_a.shape[1], left_b + mask_b.shape[1])
            bottom = min(top_a + mask_a.shape[0], top_b + mask_b.shape[0])
            if right > left and bottom > top:  # the boxes overlap
                part_a = mask_a[top - top_a : bottom - top_a, left - left_a : right - left_a]
                part_b = mask_b[top - top_b : bottom - top_b, left - left_b : right - left_b]
                intersection[row, col] = np.count_nonzero(part_a & part_b)
    areas_a = np.array([mask.sum() for _, _, mask in a], np.float64)
    areas_b = np.array([mask.sum() for _, _, mask in b], np.float64)
    union = areas_a[:, None] + areas_b[None, :] - intersection
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
