"""What every reader shares, so that one line gets the same label and skip reasons in any format."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from linescribe.data.sample import Point, Sample, Skipped

EMPTY_TEXT = "empty transcription"
IMAGE_MISSING = "image file missing"

_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFC, whitespace runs (NBSP and tabs included) as one space, stripped.

    Labels from different tools differ in exactly these invisible ways; the model must not learn them.
    """
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def is_file(path: Path) -> bool:
    """Path.is_file, but False (not OSError) for a name the system refuses, such as one too long:
    paths written inside a dataset are data, and a bad one skips its line, not the dataset."""
    try:
        return path.is_file()
    except OSError:
        return False


def line_entry(
    id: str,
    text: str,
    path: Path,
    *,
    group: str = "",
    writer: str = "",
    polygon: tuple[Point, ...] | None = None,
    angle: float = 0.0,
    size_hint: tuple[int, int] | None = None,
) -> Sample | Skipped:
    """A sample with its text normalized, or Skipped when nothing is left of the text."""
    text = normalize_text(text)
    if not text:
        return Skipped(id, EMPTY_TEXT)
    return Sample(id, text, path, group=group, writer=writer, polygon=polygon, angle=angle, size_hint=size_hint)
