"""What a language model calls a word, shared by the LM builder, the decoders and the speller.

A word is a run of letters, with apostrophes allowed between letters (``don't``, ``Hooker's``).
Digits, punctuation and spaces are not words: the LM never scores them and the lexicon never
constrains them. The LM sees words lower-cased, with typographic apostrophes made plain, so that
the network alone decides case and punctuation, with œ and æ spelt out, and with accents composed (NFC), as the model's
alphabet writes them: a corpus saved in decomposed form (macOS tools) still yields ``été``, not ``e``
and ``te`` split at each combining accent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

APOSTROPHES = "'\u2019\u02bc"
_LETTER = rf"[^\W\d_{APOSTROPHES}]"  # U+02BC is a letter to Unicode, an apostrophe here
WORD_PATTERN = re.compile(rf"{_LETTER}+(?:[{APOSTROPHES}]{_LETTER}+)*")


LIGATURES = {"\u0153": "oe", "\u00e6": "ae"}
"""œ and æ as word lists and LMs usually spell them: the French counts behind the bundled LM and
speller hold ``coeur`` 46,349 times and ``cœur`` never, so the network's ``cœur`` read as unknown."""


def word_key(word: str) -> str:
    """The LM's spelling of a written word: composed accents, lower case, plain apostrophe, ligatures
    spelt out."""
    key = unicodedata.normalize("NFC", word).lower()
    for ligature, letters in LIGATURES.items():
        key = key.replace(ligature, letters)
    for apostrophe in APOSTROPHES[1:]:
        key = key.replace(apostrophe, "'")
    return key


def find_words(text: str) -> Iterator[re.Match[str]]:
    """The words of ``text`` with their positions."""
    return WORD_PATTERN.finditer(text)


def line_words(text: str) -> list[str]:
    """The LM keys of the words of one line of text, in order."""
    return [word_key(match.group()) for match in WORD_PATTERN.finditer(unicodedata.normalize("NFC", text))]
