"""The one transformation from a grayscale line image to model input.

Training, evaluation, prediction, the web app and ONNX export all call ``Preprocessing``; its
parameters are stored in the model file, so a model always sees what it was trained on.
"""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        if not isinstance(self.height, int) or not MIN_HEIGHT <= self.height <= MAX_HEIGHT:
            raise ValueError(f"line height {self.height!r} is not a whole number of pixels in [{MIN_HEIGHT}, {MAX_HEIGHT}]")
        if self.width is not None and (not isinstance(self.width, int) or self.width < self.min_width):
            raise ValueError(f"fixed width {self.width!r} is not a whole number of pixels of at least {self.min_width}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Preprocessing:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ModelFileError(f"unknown preprocessing keys {sorted(unknown)}: model made by a newer linescribe?")
        return cls(**values)

    def output_width(self, width: int, height: int) -> int:
        """Width of the model input for a line of the given size."""
        if self.width is not None:
            return self.width
        scaled = round(width * self.height / max(height, 1))
        return int(min(max(scaled, self.min_width), self.max_width))

    def horizontal_scale(self, width: int, height: int) -> float:
        """Model input columns per column of a ``width`` x ``height`` line image (to map the
        network's frames back to the image's columns)."""
        if self.width is None:
            return self.output_width(width, height) / width
        return min(self.width / width, self.height / height)

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        """gray (H, W) uint8 -> (height, output_width) float32 in [0, 1], ink = 1."""
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
        if int(resized.max()) - int(resized.min()) < MIN_CONTRAST:
            out = np.zeros(resized.shape, np.float32)
        elif paper - ink < MIN_CONTRAST:
            # a few marks on a blank line: a plain inversion keeps noise from being amplified
            out = (255.0 - resized.astype(np.float32)) / 255.0
        else:
            out = (paper - resized.astype(np.float32)) / np.float32(paper - ink)
        out = np.clip(out, 0.0, 1.0, out=out).astype(np.float32)
        if self.width is None:
            return out
        canvas = np.zeros((self.height, self.width), dtype=np.float32)
        canvas[:target_h, :target_w] = out
        return canvas


def is_blank(line: np.ndarray) -> bool:
    """Whether a preprocessed line is plain paper: ``Preprocessing`` found no ink on it."""
    return not line.any()
