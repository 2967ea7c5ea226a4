"""Text blocks in reading order: columns left to right, and within a column its lines top to bottom.

Blocks are found by cutting the page along wide white gaps (an X-Y cut): first at full-height
vertical gaps (columns), then at full-width horizontal gaps inside each column, recursively. Trying
vertical cuts first keeps each column whole when paragraph breaks of neighbouring columns happen to
line up. A heading across the columns blocks the vertical cut: the block is then cut into bands at
its horizontal gaps, the longest run of bands that has columns is split into them, and the bands
above it (the heading) and below it are cut the same way. Cut one band at a time, the columns
of lines far apart would be a band per line, too low to be looked at for columns, and each left
line would be joined to the right line beside it.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

Box = tuple[int, int, int, int]
"""x0, y0, x1, y1 with x1, y1 exclusive."""

COLUMN_GAP = 2.0
"""Narrowest white gap between two columns, in text units (typical ink component heights): wider
than any word space, narrower than a column gutter."""

BLOCK_GAP = 2.0
"""Narrowest white gap that separates two blocks of one column, in text units: more than the blank
between two lines whose ascenders and descenders do not meet."""

MIN_COLUMN_WIDTH = 3.0
"""A column narrower than this (in text units) is a stray mark beside the text, never a column."""

MAX_COLUMN_BANDS = 64
"""Most bands (blocks of a column cut at its wide horizontal gaps: paragraphs, headings) a block
may have for a run of them to be searched for columns."""

MIN_COLUMN_LINES = 3.0
"""Columns are only looked for in blocks at least this many line spacings tall: in one or two
lines, a wide space between words is no gutter."""


def _runs(filled: np.ndarray, min_gap: int) -> list[tuple[int, int]]:
    """The stretches of ``filled`` between empty gaps of at least ``min_gap``, as (start, end)."""
    positions = np.flatnonzero(filled)
    if positions.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) > min_gap)
    starts = np.r_[positions[0], positions[breaks + 1]]
    ends = np.r_[positions[breaks], positions[-1]] + 1
    return list(zip(starts.tolist(), ends.tolist()))


def _columns(filled: np.ndarray, unit: float) -> list[tuple[int, int]]:
    """Column spans of a block whose ``filled`` pixel columns hold ink; narrow slivers are joined to
    their nearest neighbour."""
    spans = _runs(filled, int(COLUMN_GAP * unit))
    wide = [span for span in spans if span[1] - span[0] >= MIN_COLUMN_WIDTH * unit]
    if len(wide) < 2:
        return [(spans[0][0], spans[-1][1])] if spans else []
    merged = [list(span) for span in wide]
    for start, end in spans:
        if end - start >= MIN_COLUMN_WIDTH * unit:
            continue
        nearest = min(merged, key=lambda span: min(abs(start - span[1]), abs(span[0] - end)))
        nearest[0], nearest[1] = min(nearest[0], start), max(nearest[1], end)
    return [(start, end) for start, end in merged]


def find_blocks(ink: np.ndarray, unit: float, columns: bool = True) -> list[Box]:
    """Boxes around the text blocks of a deskewed ink mask (H, W), in reading order.

    ``unit`` is the typical height of an ink component in pixels; ``columns=False`` reads the page
    as one column (only horizontal cuts).
    """
    return _cut(ink, (0, 0, ink.shape[1], ink.shape[0]), unit, columns)


def line_spacing(profile: np.ndarray, unit: float) -> float:
    """Distance between consecutive lines: the first clear peak of the row profile's autocorrelation,
    or twice the text unit when the block has too few lines to show one.

    Only the rows from the first ink to the last count: blank margins above and below would
    correlate with each other at a lag near the block's height and pass for a line spacing,
    which on a block of two or three lines is several times the real one."""
    inked = np.flatnonzero(profile > 0)
    fallback = 2.0 * unit
    if inked.size == 0:
        return fallback
    profile = profile[inked[0] : inked[-1] + 1]
    centred = profile - profile.mean()
    energy = float(np.dot(centred, centred))
    if energy <= 0 or len(profile) < 3 * unit:
        return fallback
    low, high = int(1.2 * unit), min(len(profile) - 1, int(6 * unit))
    # only the lags looked at (the full autocorrelation of a long strip's profile is quadratic)
    correlation = np.array([np.dot(centred[: len(centred) - lag], centred[lag:]) for lag in range(high + 1)]) / energy
    for lag in range(max(low, 1), high):
        if (
            correlation[lag] >= correlation[lag - 1]
            and correlation[lag] > correlation[lag + 1]
            and correlation[lag] > 0.1
        ):
            return float(lag)
    return fallback


def _cut(ink: np.ndarray, box: Box, unit: float, columns: bool) -> list[Box]:
    x0, y0, x1, y1 = box
    rows = _runs(ink[y0:y1, x0:x1].any(axis=1), 0)
    if not rows:
        return []
    top, bottom = y0 + rows[0][0], y0 + rows[-1][1]
    block = ink[top:bottom, x0:x1]
    if columns and _tall(block, unit):
        spans = _columns(block.any(axis=0), unit)
        if len(spans) > 1:
            return [
                found for start, end in spans for found in _cut(ink, (x0 + start, top, x0 + end, bottom), unit, columns)
            ]
    bands = _runs(block.any(axis=1), int(BLOCK_GAP * unit))
    if len(bands) > 1:
        group = _column_bands(block, bands, unit) if columns else None
        if group is not None:  # the bands above and below it are cut as one block each
            first, last = group
            edges = [bands[0][0], bands[first][0], bands[last - 1][1], bands[-1][1]]
            bands = [(start, end) for start, end in pairwise(edges) if end > start]
        return [found for start, end in bands for found in _cut(ink, (x0, top + start, x1, top + end), unit, columns)]
    cols = np.flatnonzero(block.any(axis=0))
    return [(x0 + int(cols[0]), top, x0 + int(cols[-1]) + 1, bottom)]


def _tall(block: np.ndarray, unit: float) -> bool:
    """Whether a block, its first and last rows inked, is tall enough to be looked at for columns."""
    return len(block) >= MIN_COLUMN_LINES * line_spacing(block.sum(axis=1, dtype=np.float64), unit)


def _column_bands(block: np.ndarray, bands: list[tuple[int, int]], unit: float) -> tuple[int, int] | None:
    """The longest run of the block's bands but all of them (``first``, ``last`` exclusive) that,
    as one block, is split into columns (the topmost of the longest); None when none is, or when
    the block has more than MAX_COLUMN_BANDS bands (a long strip of separate marks, not a page's
    paragraphs: the search tries every run, and 400 bands took minutes)."""
    if len(bands) > MAX_COLUMN_BANDS:
        return None
    filled = np.stack([block[start:end].any(axis=0) for start, end in bands])
    counts = np.concatenate([np.zeros((1, block.shape[1]), np.int64), np.cumsum(filled, axis=0)])
    for length in range(len(bands) - 1, 0, -1):
        for first in range(len(bands) - length + 1):
            last = first + length
            if len(_columns(counts[last] > counts[first], unit)) > 1 and _tall(
                block[bands[first][0] : bands[last - 1][1]], unit
            ):
                return first, last
    return None
