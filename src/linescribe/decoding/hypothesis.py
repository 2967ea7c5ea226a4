"""The one result type that every decoder returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hypothesis:
    """Decoded text with a confidence in [0, 1] per character and for the whole line."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = field(default=())
