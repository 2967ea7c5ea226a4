"""The mapping between characters and the class ids of the CTC output layer.

Id 0 is the CTC blank, so character ``alphabet.chars[i]`` has id ``i + 1``.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from linescribe.errors import AlphabetError

BLANK_ID = 0


class Alphabet:
    """An ordered set of characters; the order fixes the output layer's classes."""

    def __init__(self, chars: Sequence[str]) -> None:
        chars = list(chars)
        if not chars:
            raise AlphabetError("the alphabet is empty: the training data has no text")
        for char in chars:
            if len(char) != 1:
                raise AlphabetError(f"alphabet entry {char!r} is not a single character")
        if len(set(chars)) != len(chars):
            duplicates = sorted(c for c, n in Counter(chars).items() if n > 1)
            raise AlphabetError(f"alphabet has duplicate characters: {duplicates!r}")
        self.chars: list[str] = chars
        self._ids = {char: index + 1 for index, char in enumerate(chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Alphabet:
        """Every character that occurs in the texts, in code point order."""
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        return cls(sorted(seen))

    @classmethod
    def from_file(cls, path: str) -> Alphabet:
        """One character per line, optionally followed by a tab and a count (``charset.txt``);
        ``<space>`` (or a line that is a single space) stands for the space."""
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError as error:
            raise AlphabetError(f"{path}: cannot read alphabet file ({error.strerror})") from None
        chars = []
        for line in lines:
            entry = line.split("\t")[0]
            if entry in ("<space>", " "):
                chars.append(" ")
            elif entry.strip():
                # labels are NFC, so an alphabet file written in NFD must be too
                chars.append(unicodedata.normalize("NFC", entry.strip()))
        try:
            return cls(chars)
        except AlphabetError as error:
            raise AlphabetError(f"{path}: {error}") from None

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def num_classes(self) -> int:
        """Output layer size: the characters plus the blank."""
        return len(self.chars) + 1

    def __contains__(self, char: str) -> bool:
        return char in self._ids

    def unknown_chars(self, text: str) -> set[str]:
        """Characters of ``text`` that the alphabet lacks."""
        return {char for char in text if char not in self._ids}

    def encode(self, text: str) -> list[int]:
        """Class ids of ``text``; raises AlphabetError naming unknown characters."""
        try:
            return [self._ids[char] for char in text]
        except KeyError:
            unknown = "".join(sorted(self.unknown_chars(text)))
            raise AlphabetError(f"characters {unknown!r} are not in the alphabet") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of class ids (blank ids are dropped, repeats are kept: no CTC collapsing)."""
        return "".join(self.chars[i - 1] for i in ids if i != BLANK_ID)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Alphabet) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"Alphabet({len(self.chars)} chars)"
