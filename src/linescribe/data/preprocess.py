"""The one transformation from a grayscale line image to model input.

Training, evaluation, prediction, the web app and ONNX export all call ``Preprocessing``; its
parameters are stored in the model file, so a model always sees what it was trained on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np

from linescribe.errors import ModelFileError


MIN_HEIGHT, MAX_HEIGHT = 8, 512
"""The line heights a model may read at (``train --line-height``)."""

MIN_CONTRAST = 16
"""Grey levels between paper and ink below which contrast is not stretched; a line with no two
pixels this far apart has no ink and comes out as plain paper (all zeros)."""

MIN_CORE_HEIGHT = 4
MAX_CORE_ZOOM = 3.0
"""With ``core_height``, a line is scaled at most this many times larger than its crop would be."""
MIN_INK_KEPT = 0.6
"""With ``core_height``, a core window that keeps less of the line's ink than this is not used."""


@dataclass(frozen=True)
class Preprocessing:
    """Grayscale uint8 (ink dark) -> float32 (height, width) with ink near 1 and paper at 0.

    Contrast is stretched between the ink percentile and the paper percentile of each line, so
    beige, grey and white papers all become 0 and faint or dark inks come out alike. A line
    without ink (every pixel within ``MIN_CONTRAST`` grey levels of the others) comes out all
    zeros whatever its paper, which ``is_blank`` recognises: a model has nothing to read there.
    ``width`` set means a fixed-size input (the line is scaled to fit and padded with paper);
    unset means the width follows the line's aspect ratio, clipped to [min_width, max_width].
    """

    height: int = 48
    width: int | None = None
    min_width: int = 16
    max_width: int = 4096
    ink_percentile: float = 2.0
    paper_percentile: float = 90.0
    core_height: int | None = None
    """Set: the line is scaled so that its core (the x-height band, where its strokes cross the
    rows most often; see ``core_band``) is this many pixels high and centred in the ``height`` rows, instead of the
    whole crop filling them. Tall ascenders or loose crops then no longer shrink the letters;
    what reaches past the window is cut off."""

    def __post_init__(self) -> None:
        if not isinstance(self.height, int) or not MIN_HEIGHT <= self.height <= MAX_HEIGHT:
            raise ValueError(f"line height {self.height!r} is not a whole number of pixels in [{MIN_HEIGHT}, {MAX_HEIGHT}]")
        if self.width is not None and (not isinstance(self.width, int) or self.width < self.min_width):
            raise ValueError(f"fixed width {self.width!r} is not a whole number of pixels of at least {self.min_width}")
        if self.core_height is not None:
            if not isinstance(self.core_height, int) or not MIN_CORE_HEIGHT <= self.core_height <= self.height:
                raise ValueError(
                    f"core height {self.core_height!r} is not a whole number of pixels in [{MIN_CORE_HEIGHT}, {self.height}] "
                    "(the line height)"
                )
            if self.width is not None:
                raise ValueError("a core height needs lines of their own width, not a fixed width")
        if not isinstance(self.min_width, int) or not isinstance(self.max_width, int) or not 1 <= self.min_width <= self.max_width:
            raise ValueError(f"widths [{self.min_width!r}, {self.max_width!r}] are not whole numbers of pixels with 1 <= min <= max")
        if not 0 <= self.ink_percentile < self.paper_percentile <= 100:
            raise ValueError(
                f"percentiles ink {self.ink_percentile!r}, paper {self.paper_percentile!r} are not 0 <= ink < paper <= 100"
            )

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        if self.core_height is None:  # files without it still open in versions that predate it
            del values["core_height"]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Preprocessing:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ModelFileError(f"unknown preprocessing keys {sorted(unknown)}: model made by a newer linescribe?")
        return cls(**values)

    def output_width(self, width: int, height: int) -> int:
        """Width of the model input for a line of the given size. With ``core_height`` the scale
        depends on the ink: this is then the width at the crop's height, the least it can be
        (``MAX_CORE_ZOOM`` times it the most)."""
        if self.width is not None:
            return self.width
        scaled = round(width * self.height / max(height, 1))
        return int(min(max(scaled, self.min_width), self.max_width))

    def widest_output(self, width: int, height: int) -> int:
        """The most columns a line of this size can come out as (``output_width`` unless the
        scale depends on the ink): what a caller budgeting work must assume."""
        if self.core_height is None or self.width is not None:
            return self.output_width(width, height)
        return self.output_width(width, math.ceil(height / MAX_CORE_ZOOM))  # the shortest window

    def horizontal_scale(self, width: int, height: int) -> float:
        """Model input columns per column of a ``width`` x ``height`` line image (to map the
        network's frames back to the image's columns); for lines of their own width it is their
        preprocessed width over ``width``, which only ``output_width`` knows beforehand without
        ``core_height``."""
        if self.width is None:
            return self.output_width(width, height) / width
        return min(self.width / width, self.height / height)

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        """gray (H, W) uint8 -> (height, output_width) float32 in [0, 1], ink = 1."""
        if self.core_height is not None:
            gray = self._core_window(gray)
        height, width = gray.shape
        if self.width is None:
            target_w, target_h = self.output_width(width, height), self.height
        else:
            scale = self.horizontal_scale(width, height)
            target_w = max(1, min(self.width, round(width * scale)))
            target_h = max(1, min(self.height, round(height * scale)))
        shrinking = target_h < height or target_w < width
        resized = cv2.resize(gray, (target_w, target_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        ink, paper = np.percentile(resized, (self.ink_percentile, self.paper_percentile))
        if int(gray.max()) - int(gray.min()) < MIN_CONTRAST:  # before resizing, which can average faint strokes away
            out = np.zeros(resized.shape, np.float32)
        elif paper - ink < MIN_CONTRAST:
            # a few marks on a blank line (a short word in a wide crop): the paper goes to 0 as
            # everywhere else, but black, not the darkest mark, to 1, so noise is not amplified
            out = (paper - resized.astype(np.float32)) / np.float32(max(paper, MIN_CONTRAST))
        else:
            out = (paper - resized.astype(np.float32)) / np.float32(paper - ink)
        out = np.clip(out, 0.0, 1.0, out=out).astype(np.float32)
        if self.width is None:
            return out
        canvas = np.zeros((self.height, self.width), dtype=np.float32)
        canvas[:target_h, :target_w] = out
        return canvas

    def core_window(self, gray: np.ndarray) -> tuple[int, int] | None:
        """(first row, rows) of the window of ``gray`` that is scaled to ``height`` so that its
        core band comes out ``core_height`` high and centred; it may reach past the crop, which
        adds paper. None: the line is read whole, as without a core height (no band, or a window
        that would cut off too much of the ink: a band found on an underline or a neighbour's)."""
        ink = _ink_mask(gray) if self.core_height is not None else None
        band = core_band(gray, ink) if ink is not None else None
        if band is None:
            return None
        top, bottom = band
        rows = gray.shape[0]
        # never taller than the crop (letters no smaller than without a core height) nor more than
        # MAX_CORE_ZOOM times shorter (a thin band must not blow a line up)
        window = (bottom - top) * self.height / self.core_height
        window = min(max(round(window), math.ceil(rows / MAX_CORE_ZOOM)), rows)
        start = round((top + bottom - window) / 2)
        kept = ink[max(start, 0) : start + window].sum()
        if kept < MIN_INK_KEPT * ink.sum():
            return None
        return start, window

    def input_width(self, gray: np.ndarray) -> int:
        """The width this line comes out as (``output_width`` of its size, unless a core height
        makes it depend on the ink)."""
        height, width = gray.shape
        window = self.core_window(gray) if self.core_height is not None else None
        return self.output_width(width, window[1] if window else height)

    def _core_window(self, gray: np.ndarray) -> np.ndarray:
        """``gray``'s core window (``core_window``), padded with paper where it reaches past the crop."""
        window = self.core_window(gray)
        if window is None:
            return gray
        start, rows = window
        paper = int(np.percentile(gray[:, :: max(1, gray.shape[1] // 256)], self.paper_percentile))
        padded = np.full((rows, gray.shape[1]), paper, dtype=gray.dtype)
        source_start, source_end = max(start, 0), min(start + rows, gray.shape[0])
        padded[source_start - start : source_end - start] = gray[source_start:source_end]
        return padded


def is_blank(line: np.ndarray) -> bool:
    """Whether a preprocessed line is plain paper: ``Preprocessing`` found no ink on it."""
    return not line.any()


def _ink_mask(gray: np.ndarray) -> np.ndarray | None:
    """Ink (1) and paper (0) of a copy of ``gray`` half as wide (the rows kept: the band needs no
    horizontal detail), split by Otsu's threshold, which holds for a lone word in a wide crop
    where a low percentile is paper; None for a line without ink."""
    rows, columns = gray.shape
    small = cv2.resize(gray, (columns // 2, rows), interpolation=cv2.INTER_AREA) if columns >= 32 else gray
    if int(small.max()) - int(small.min()) < MIN_CONTRAST:
        return None
    _, ink = cv2.threshold(np.ascontiguousarray(small), 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return ink


def core_band(gray: np.ndarray, ink: np.ndarray | None = None) -> tuple[int, int] | None:
    """(top, bottom) rows of a line's core (x-height band), or None for a line without ink.

    The band is where strokes cross a row most often (ink/paper changes along it: a ruled line or
    an underline, one long stroke, cannot win), weighted towards the middle of the crop (against
    a neighbour's letters caught at its edge): the run of rows around the best row whose
    crossings are at least half of that row's (the full width at half maximum of the profile).
    ``ink``: the line's ``_ink_mask``, if already made.
    """
    ink = _ink_mask(gray) if ink is None else ink
    if ink is None:
        return None
    rows = ink.shape[0]
    crossings = np.count_nonzero(np.diff(ink, axis=1), axis=1).astype(np.float32)
    size = max(1, round(rows / 24))  # smooth over about a stroke's width
    profile = np.convolve(crossings, np.ones(size, np.float32) / size, mode="same")
    offset = (np.arange(rows, dtype=np.float32) - (rows - 1) / 2) / max(rows / 2, 1)
    peak = int((profile * (1.0 - 0.5 * offset**2)).argmax())
    if profile[peak] <= 0:
        return None
    dense = profile >= profile[peak] / 2
    below = np.flatnonzero(~dense[:peak])
    above = np.flatnonzero(~dense[peak:])
    top = int(below[-1]) + 1 if below.size else 0
    bottom = peak + int(above[0]) if above.size else rows
    return top, bottom
