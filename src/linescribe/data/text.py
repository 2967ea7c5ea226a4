"""Transcription rules: turning a collection's markup conventions into plain text to learn.

Collections mark things that are not letters: CREMMA / HTR-United transcriptions write ``^`` before
superscript letters, ``>word<`` around crossed-out words and ``><`` (or ``<>``) for illegible scribbles; some use
typographic apostrophes where others use straight ones. A model should learn the ink, not the
markup, and an evaluation should compare like with like, so the same rules apply to training
labels and to evaluation references (``eval`` takes them from the model file).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from linescribe.errors import LinescribeError

ILLEGIBLE = ("><", "<>")
"""Illegible ink: ``><`` in CREMMA and Copiste, ``<>`` in Copiste and two ../shared sets (mss19's
Vivien folder, mss20's Badinter letters)."""

_QUOTES = str.maketrans(
    {"’": "'", "‘": "'", "‚": "'", "‛": "'", "ʼ": "'", "“": '"', "”": '"', "„": '"', "‟": '"'}
)
"""Typographic quotes to ASCII, both pairs of each kind: German and Polish low quotes (``„…“``,
``‚…‘``) and the reversed ones (``‛``, ``‟``) too."""
_CREMMA_MARKUP = re.compile("|".join(map(re.escape, ILLEGIBLE)) + r"|>([^<>]+)<")
"""Illegible marks and struck words (``>word<``), found in one left-to-right pass: two struck
words side by side (``>Cery<>Cerry<``) are two struck words, not illegible ink, and ``<> a <>``
is illegible ink twice, not a struck `` a `` between two stray brackets."""


class DropLine(Exception):
    """The line cannot be learned from (e.g. it contains illegible ink); the message says why."""


def _struck_or_illegible(match: re.Match[str]) -> str:
    if match.group(1) is None:
        raise DropLine(f"illegible ink marked '{match.group(0)}'")
    return match.group(1)


def _cremma(text: str) -> str:
    text = _CREMMA_MARKUP.sub(_struck_or_illegible, text).replace("^", "")
    return re.sub(r" {2,}", " ", text).strip()


def _quotes(text: str) -> str:
    return text.translate(_QUOTES)


def _long_s(text: str) -> str:
    return text.replace("ſ", "s")


TEXT_RULES: dict[str, Callable[[str], str]] = {
    "cremma": _cremma,
    "quotes": _quotes,
    "long-s": _long_s,
}
"""Rule name -> function; a rule raises DropLine when the whole line should be left out."""


def parse_rules(names: str | Sequence[str] | None) -> list[str]:
    """``"cremma,quotes"`` or a list -> validated rule names."""
    if not names:
        return []
    items = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    unknown = [n for n in items if n and n not in TEXT_RULES]
    if unknown:
        raise LinescribeError(f"unknown text rules {unknown}; known: {', '.join(TEXT_RULES)}")
    return [n for n in items if n]


def apply_rules(text: str, rules: Sequence[str]) -> str:
    """The text with every rule applied in order; raises DropLine for lines to leave out."""
    for name in rules:
        text = TEXT_RULES[name](text)
    return text
