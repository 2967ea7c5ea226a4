"""What every reader shares, so that one line gets the same label and skip reasons in any format."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from linescribe.data.sample import Point, Sample, Skipped

EMPTY_TEXT = "empty transcription"
IMAGE_MISSING = "image file missing"

_WHITESPACE = re.compile(r"\s+")

KEPT_FORMAT_CHARS = frozenset("\u200c\u200d\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd")
"""The format characters (category Cf) a label keeps: ZWNJ and ZWJ change how the letters
around them are written, and the prepended concatenation marks (Arabic number signs, the
end-of-ayah sign) are ink."""


def _without_invisible(text: str) -> str:
    """The text without zero-width and other invisible format characters (BOM, U+200B, soft
    hyphen, direction marks), which editors leave in labels and the alphabet would take as classes."""
    if text.isascii():  # every format character is outside ASCII
        return text
    return "".join(char for char in text if char in KEPT_FORMAT_CHARS or unicodedata.category(char) != "Cf")


def normalize_text(text: str) -> str:
    """Invisible format characters dropped, NFC, whitespace runs (NBSP and tabs included) as one
    space, stripped.

    Labels from different tools differ in exactly these invisible ways; the model must not learn them.
    """
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", _without_invisible(text))).strip()


def walk(root: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` top-down, into symlinked folders too, but into each real folder once, so a
    link to an ancestor is no loop and a folder linked twice gives its lines once. A caller may
    prune the subfolder list in place, as with os.walk."""
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        yield folder, subfolders, names


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
