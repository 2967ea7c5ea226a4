"""Spelling correction of decoded lines, word by word (``--spell``).

Only words are touched (runs of letters, see ``linescribe.lm.words``); spaces, punctuation and
digits are kept as they are. A word is left alone when the dictionary knows it, when it is
shorter than ``min_length``, when it is written in capitals (``RBG``), when it touches a digit
(``3rd``, ``10th``), or when it starts with a capital and ``proper_nouns`` is off (names are the
words a dictionary most often lacks). A correction keeps the word's case pattern (with ``proper_nouns``,
``Specimns`` -> ``Specimens``). Words of up to 4 letters may change by one edit, longer ones by two.

Backends: ``symspell`` (symspellpy, MIT, with its English frequency dictionary of 82,765 words),
the default and a dependency; ``symspell-fr``, the same corrector with the French frequency
dictionary of pyspellchecker (MIT, 139,905 words counted in OpenSubtitles), also a dependency,
which reads elided words part by part (``l'homme``, ``qu'il``: only the part after the last
apostrophe is ever corrected); and ``autocorrect`` (autocorrect, LGPL-3.0, English, the library the
classic pipeline used; optional: ``pip install autocorrect``). ``python benchmarks/decoders.py --spellers``
compares them on Hooker validation lines with one random letter edit in 10 % of the words: symspell
took the CER from 1.47 % to 0.95 % (WER 6.39 % to 3.96 %) where autocorrect made it worse (1.94 %),
and on the clean lines symspell changed fewer correct words (CER 0.30 % against 0.41 %).
"""

from __future__ import annotations

import gzip
import json
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from typing import Any

from linescribe.alphabet import Alphabet
from linescribe.decoding.alignment import align_chars
from linescribe.decoding.frames import frame_array
from linescribe.decoding.hypothesis import Alternative, Hypothesis, line_confidence
from linescribe.errors import LinescribeError
from linescribe.lm.words import APOSTROPHES, LIGATURES, find_words, word_key

SPELLERS = ("symspell", "symspell-fr", "autocorrect")
DEFAULT_SPELLER = "symspell"
MAX_CACHED_WORDS = 100_000
"""Corrections remembered per Speller; the cache starts over when full."""


def check_speller(name: str) -> None:
    """LinescribeError unless ``name`` is one of SPELLERS."""
    if name not in SPELLERS:
        raise LinescribeError(f"unknown speller {name!r}; known: {', '.join(SPELLERS)}")


_SYMSPELL_LOCK = threading.Lock()
"""One lookup at a time in the process's shared SymSpell objects: symspellpy's Damerau-OSA
comparer keeps its cost rows on the object, and web workers correcting words at once overwrote
each other's (wrong distances, then wrong corrections kept in a Speller's cache)."""


@lru_cache(maxsize=2)
def _symspell(language: str = "en"):
    """A SymSpell corrector with the English (symspellpy's) or French (pyspellchecker's) word
    frequencies; building one takes about 2.3 s, so each is built once per process."""
    try:
        from importlib.resources import files

        from symspellpy import SymSpell
    except ImportError:
        raise LinescribeError("--spell symspell needs the symspellpy package: pip install symspellpy") from None
    speller = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    if language == "en":
        speller.load_dictionary(str(files("symspellpy") / "frequency_dictionary_en_82_765.txt"), term_index=0, count_index=1)
        return speller
    for word, count in word_counts(language).items():
        speller.create_dictionary_entry(word, count)
    return speller


def word_counts(language: str) -> dict[str, int]:
    """The word frequencies that pyspellchecker ships for ``language`` (``fr``: 139,905 words
    counted in OpenSubtitles): the French speller's dictionary and the bundled French LM's counts."""
    from importlib.resources import files

    try:
        return json.loads(gzip.decompress((files("spellchecker") / "resources" / f"{language}.json.gz").read_bytes()))
    except ImportError:
        raise LinescribeError("the French speller and LM need the pyspellchecker package: pip install pyspellchecker") from None


@lru_cache(maxsize=2)
def _autocorrect():
    try:
        from autocorrect import Speller as AutocorrectSpeller
    except ImportError:
        raise LinescribeError("--spell autocorrect needs the autocorrect package: pip install autocorrect") from None
    return AutocorrectSpeller("en", only_replacements=True)


class Speller:
    """``Speller().correct("I recieved the specimns.") == "I received the specimens."``"""

    def __init__(
        self,
        backend: str = DEFAULT_SPELLER,
        min_length: int = 3,
        proper_nouns: bool = False,
        alphabet: Alphabet | None = None,
    ) -> None:
        check_speller(backend)
        self.backend = backend
        self.min_length = min_length
        self.proper_nouns = proper_nouns
        self.alphabet = alphabet
        self._known, self._suggest, self._letters = self._load(backend)
        self._cache: dict[str, str] = {}

    @staticmethod
    def _load(backend: str) -> tuple[Callable[[str], bool], Callable[[str], str | None], frozenset[str]]:
        """Whether a word is known, its correction, and the letters the dictionary's words use."""
        if backend.startswith("symspell"):
            from symspellpy import Verbosity

            speller = _symspell("fr" if backend == "symspell-fr" else "en")
            words = speller.words
            letters = frozenset("".join(words))

            def suggest_symspell(word: str) -> str | None:
                distance = 1 if len(word) <= 4 else 2
                with _SYMSPELL_LOCK:  # its edit-distance comparer writes into shared scratch rows
                    suggestions = speller.lookup(word, Verbosity.TOP, max_edit_distance=distance)
                return suggestions[0].term if suggestions else None

            if backend == "symspell":
                return (lambda word: word in words), suggest_symspell, letters

            def known_french(word: str) -> bool:  # an elided word is known when each of its parts is
                return word in words or all(part in words for part in word.split("'") if part)

            def suggest_french(word: str) -> str | None:
                elided, apostrophe, last = word.rpartition("'")
                if not apostrophe:
                    return suggest_symspell(word)
                if len(last) < 3 or not all(part in words for part in elided.split("'") if part):
                    return None
                corrected = suggest_symspell(last)
                return f"{elided}'{corrected}" if corrected else None

            return known_french, suggest_french, letters
        speller = _autocorrect()
        counts = speller.nlp_data

        def suggest_autocorrect(word: str) -> str | None:
            candidate = speller.autocorrect_word(word)
            return candidate if candidate != word else None

        return (lambda word: word in counts), suggest_autocorrect, frozenset("".join(counts))

    def correct_word(self, word: str) -> str:
        """The correction of one word (letters and inner apostrophes), or the word itself."""
        cached = self._cache.get(word)  # one lookup: a server's other thread may clear the cache in between
        if cached is not None:
            return cached
        if len(self._cache) >= MAX_CACHED_WORDS:  # a server sees new words forever
            self._cache.clear()
        result = word
        lower = word_key(word)
        leave = (
            len(word) < self.min_length
            or any(char.isupper() for char in word[1:])  # BBC, mRNA, macOS: no dictionary word's case
            or (word[0].isupper() and not self.proper_nouns)
            or not set(lower.replace("'", "")) <= self._letters  # café to the English dictionary, which is ASCII only
            or any(ligature in word.lower() for ligature in LIGATURES)  # unknown as cœur: a correction would drop the œ
            or self._known(lower)
        )
        if not leave:
            candidate = self._suggest(lower)
            if candidate and candidate != lower and candidate.isalpha() == lower.isalpha():
                candidate = _same_case(word, candidate)
                written = next((char for char in word if char in APOSTROPHES), "'")
                candidate = candidate.replace("'", written)  # the apostrophe the word was written with
                if self.alphabet is None or not self.alphabet.unknown_chars(candidate):
                    result = candidate
        self._cache[word] = result
        return result

    def correct(self, text: str) -> str:
        """``text`` with its misspelt words corrected; everything else kept as it is (composed to
        NFC, as the readers compose transcriptions: decomposed accents would cut words in two)."""
        text = unicodedata.normalize("NFC", text)
        pieces = []
        position = 0
        for match in find_words(text):
            start, end = match.span()
            pieces.append(text[position:start])
            touches_digit = (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit())
            pieces.append(match.group() if touches_digit else self.correct_word(match.group()))
            position = end
        pieces.append(text[position:])
        return "".join(pieces)


def _same_case(original: str, word: str) -> str:
    """A correction of a lower-case or capitalised word (the only ones corrected) in its case."""
    return word[0].upper() + word[1:] if original[0].isupper() else word


class SpellCorrected:
    """A decoder followed by spelling correction. The corrected text is aligned to the network's
    output again for its character confidences and frames; a correction that cannot be aligned (more
    characters than frames allow) is dropped."""

    def __init__(self, decoder: Callable[[Any, Any, Alphabet], list[Hypothesis]], speller: Speller) -> None:
        self.decoder = decoder
        self.speller = speller

    def __call__(self, log_probs: Any, lengths: Any, alphabet: Alphabet) -> list[Hypothesis]:
        hypotheses = self.decoder(log_probs, lengths, alphabet)
        frames = None
        corrected = []
        for line, (hypothesis, length) in enumerate(zip(hypotheses, lengths.tolist())):
            text = self.speller.correct(hypothesis.text)
            if text == hypothesis.text or alphabet.unknown_chars(text):
                corrected.append(hypothesis)
                continue
            if frames is None:
                frames = frame_array(log_probs)
            aligned = align_chars(frames[:length, line], alphabet.encode(text))
            if aligned is None:
                corrected.append(hypothesis)
                continue
            confidence = line_confidence(aligned.confidences, frames[:length, line])
            alternatives = _led_by(text, hypothesis.alternatives)
            corrected.append(Hypothesis(text, confidence, aligned.confidences, alternatives, aligned.frames))
        return corrected


def _led_by(text: str, alternatives: tuple[Alternative, ...]) -> tuple[Alternative, ...]:
    """A beam decoder's n-best list after its best text was corrected to ``text``: the corrected
    text takes the best entry's place (and its share), so the list still starts with the text."""
    if not alternatives:
        return alternatives
    best, *others = alternatives
    return (replace(best, text=text), *(other for other in others if other.text != text))
