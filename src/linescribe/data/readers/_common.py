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


_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
"""The control characters that are not whitespace (whitespace ones become spaces)."""


def _without_invisible(text: str) -> str:
    """The text without control characters and without zero-width and other invisible format
    characters (BOM, U+200B, soft hyphen, direction marks), which editors leave in labels and the
    alphabet would take as classes (a model that learnt a control character writes it, and no
    PAGE or ALTO file can hold it)."""
    text = _CONTROL.sub("", text)
    if text.isascii():  # every format character is outside ASCII
        return text
    return "".join(char for char in text if char in KEPT_FORMAT_CHARS or unicodedata.category(char) != "Cf")


def normalize_text(text: str) -> str:
    """Control and invisible format characters dropped, NFC, whitespace runs (NBSP and tabs included) as one
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


LINE_ID = re.compile(
    r"_(?:r\d+l\d+|tr_\d+_tl_\d+|tl_\d+|l_\d+|eSc_line_[0-9a-f]+|line_[\d_]+|line\d+|l\d+)$"
)
"""The line part of an exported line image's stem: Transkribus ``r1l10``, ``tr_1_tl_3``, ``l_535``,
``line_1561403516499_110``; eScriptorium ``eSc_line_6d78f9b1``; kraken ``line_12``."""


def page_of(stem: str) -> str:
    """The stem without its line id (``JDH_2_16_65_001_tr_1_tl_3`` -> ``JDH_2_16_65_001``), else
    before its last ``_``; "" when that leaves nothing."""
    match = LINE_ID.search(stem)
    return stem[: match.start()] if match else stem.rpartition("_")[0]


def page_group(key: str, root: Path) -> str:
    """The page a line image comes from, guessed from ``key``, its path below ``root`` without
    suffix (gt folders, manifests without a group column), so that a page never straddles the
    train/val split. At the root, the stem's page, or the root's name for a stem that is only a
    line id. In a subfolder, the page under its folder (``p001/JDH_2_16_65_001``), so pages of the
    same name in two folders stay apart; and the folder alone when the stem is only a line id
    (``p001/tr_1_tl_3``, ``p002/line_0002``): the folder is then the page, and the id's start
    (``tr_1``, ``line``) would join every page's lines of that name."""
    folder, _, stem = key.rpartition("/")
    page = "" if LINE_ID.fullmatch(f"_{stem}") else page_of(stem)
    if not folder:
        return page or root.name
    return f"{folder}/{page}" if page else folder


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
