"""One line of a dataset: where its image is and what it says."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

Point = tuple[float, float]


@dataclass(frozen=True)
class Sample:
    """A text line whose image is loaded lazily, so a dataset of 100k lines costs little memory.

    ``path`` is a line image, or a page image when ``polygon`` is given: the line is then the
    polygon's crop of the page, with everything outside the polygon painted as background.
    ``group`` is the document the line belongs to (IAM form, page, letter): splits keep groups
    whole so that validation lines never share a page with training lines.
    """

    id: str
    text: str
    path: Path
    group: str = ""
    writer: str = ""
    polygon: tuple[Point, ...] | None = None
    angle: float = 0.0
    """Degrees the line's baseline turns clockwise from level (image y points down), for a polygon
    line steep enough to be read turned level (``images.ROTATE_ABOVE``); else 0."""
    size_hint: tuple[int, int] | None = field(default=None, compare=False)
    """(width, height) of the line image when the reader knows it without decoding."""


@dataclass(frozen=True)
class Skipped:
    """An entry a reader could not turn into a sample, with the reason, for the summary."""

    id: str
    reason: str
