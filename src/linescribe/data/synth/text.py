"""Texts for synthetic lines: chunks of the user's corpus, or built-in English and French prose.

The built-in text is drawn word by word from real frequency lists (English: Google Books Ngram
counts via symspellpy, with its bigrams for plausible word pairs; French: a list ranked for
linescribe, see ``words/SOURCES.md``) and dressed like the transcriptions of real letters:
sentence capitals, commas and full stops at the rates of the real lines, names, numbers and
dates, elisions, quotes, brackets and end-of-line hyphens. Lines are mostly 15-60 characters.
"""

from __future__ import annotations

import gzip
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linescribe.errors import AlphabetError, DatasetError

WORDS_DIR = Path(__file__).parent / "words"
MAX_WORDS = 12
MAX_TRIES = 200

ENGLISH_CONTRACTIONS = {
    "don't": 4e-4,
    "it's": 4e-4,
    "I'm": 3e-4,
    "that's": 2e-4,
    "can't": 2e-4,
    "I've": 2e-4,
    "didn't": 2e-4,
    "I'll": 1e-4,
    "won't": 1e-4,
    "isn't": 1e-4,
    "wouldn't": 1e-4,
}
"""Share of all words: Google Books tokens split contractions off, so they are added by hand."""

ELIDED = ("le", "la", "de", "que", "je", "ne", "se", "ce", "me")
"""French words that lose their vowel before a vowel: le arbre -> l'arbre."""
NOT_AFTER_ELISION = ("à", "a", "au", "aux", "et", "ou", "où", "y", "en", "il", "elle", "on")
"""Vowel-initial words that an elided word rarely precedes (de à, le et), kept apart instead."""

ENGLISH_MONTHS = ("Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec")
FRENCH_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

# Rates per word or per line, tuned towards the character statistics of the real transcriptions
# (shared/data, all three sets: 4.4 % capitals, 2.6 % digits, 0.9 % commas, 0.9 % full stops,
# 0.5 % hyphens, 0.4 % apostrophes, 0.2 % brackets, 0.2 % '&'; lines of 13-56 characters).
P_NUMBER = 0.035
P_FULL_STOP = 0.045
P_COMMA = 0.04
P_COLON = 0.006
P_SEMICOLON = 0.003
P_NAME = 0.14
P_ACRONYM = 0.01
P_POSSESSIVE = 0.03
P_COMPOUND = 0.04
P_BIGRAM = 0.65
P_MID_SENTENCE_START = 0.7
P_AMPERSAND_LINE = 0.3
P_CURLY_APOSTROPHE = 0.25
P_HYPHENATED_END = 0.1
P_DASH = 0.1
P_BRACKETS = 0.08
P_QUOTES = 0.025

VOWELS = set("aeiouyhàâäéèêëîïôöûüœæ")


@dataclass(frozen=True)
class Vocabulary:
    """Words with their frequencies, and for some words the frequencies of the word after them."""

    words: tuple[str, ...]
    cumulative: np.ndarray
    successors: dict[str, tuple[tuple[str, ...], np.ndarray]]

    @classmethod
    def build(
        cls, counts: dict[str, float], pairs: dict[str, dict[str, float]], allowed: Callable[[str], bool]
    ) -> Vocabulary:
        words = tuple(w for w in counts if allowed(w))
        if not words:
            raise AlphabetError("the alphabet allows none of the built-in words; give a corpus (--corpus) instead")
        successors = {}
        for first, nexts in pairs.items():
            kept = [(w, c) for w, c in nexts.items() if allowed(w)]
            if allowed(first) and kept:
                successors[first] = (tuple(w for w, _ in kept), _cumulative([c for _, c in kept]))
        return cls(words, _cumulative([counts[w] for w in words]), successors)

    def draw(self, rng: np.random.Generator, previous: str | None) -> str:
        """A word, usually one that often follows ``previous``."""
        if previous in self.successors and rng.random() < P_BIGRAM:
            words, cumulative = self.successors[previous]
        else:
            words, cumulative = self.words, self.cumulative
        return words[min(int(np.searchsorted(cumulative, rng.random(), side="right")), len(words) - 1)]


def _cumulative(weights: list[float]) -> np.ndarray:
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    return cumulative / cumulative[-1]


def _read_counts(path: Path) -> list[tuple[str, float]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [(key, float(count)) for key, count in (line.rstrip("\n").split("\t") for line in handle)]


def _english(allowed: Callable[[str], bool]) -> Vocabulary:
    counts = {("I" if w == "i" else w): c for w, c in _read_counts(WORDS_DIR / "en_words.tsv.gz")}
    total = sum(counts.values())
    counts.update({w: share * total for w, share in ENGLISH_CONTRACTIONS.items()})
    pairs: dict[str, dict[str, float]] = defaultdict(dict)
    for pair, count in _read_counts(WORDS_DIR / "en_bigrams.tsv.gz"):
        first, second = pair.split(" ")
        pairs["I" if first == "i" else first]["I" if second == "i" else second] = count
    return Vocabulary.build(counts, pairs, allowed)


def _french(allowed: Callable[[str], bool]) -> Vocabulary:
    """Ranked list, weighted by a Zipf-Mandelbrot law (weight ~ 1 / (rank + 2.7))."""
    lines = (WORDS_DIR / "fr_words.txt").read_text(encoding="utf-8").split()
    return Vocabulary.build({w: 1.0 / (rank + 2.7) for rank, w in enumerate(lines, 1)}, {}, allowed)


def _elides(word: str) -> bool:
    return word[:1].lower() in VOWELS and word.lower() not in NOT_AFTER_ELISION


def _compounds(first: str, second: str) -> bool:
    """Two content words that may be joined by a hyphen (well-known), not function words."""
    return len(first) > 3 and len(second) > 3 and first.isalpha() and second.isalpha()


def _capitalise(word: str) -> str:
    return word[:1].upper() + word[1:]


def _choose(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _english_ordinal(number: int) -> str:
    if number % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def _number(rng: np.random.Generator, french: bool) -> str:
    """A number as letters show them: years, amounts, dates such as 'Dec 21/95', references."""
    kind = rng.random()
    day, year = int(rng.integers(1, 32)), int(rng.integers(1800, 2025))
    if kind < 0.3:
        return str(year)
    if kind < 0.55:
        return str(int(rng.integers(1, 100)))
    if kind < 0.65:
        return str(int(rng.integers(100, 10000)))
    if kind < 0.75:
        if french:
            return _choose(
                rng,
                (
                    f"{day} {_choose(rng, FRENCH_MONTHS)} {year}",
                    "1er",
                    f"{day}e",
                    f"{day}/{int(rng.integers(1, 13)):02d}/{year}",
                ),
            )
        return _choose(
            rng,
            (
                f"{_choose(rng, ENGLISH_MONTHS)} {day}/{year % 100:02d}",
                f"{day}/{int(rng.integers(1, 13))}/{year % 100:02d}",
                f"{day}{_english_ordinal(day)}",
            ),
        )
    if kind < 0.8:
        amount = int(rng.integers(1, 1000))
        return _choose(rng, (f"{amount} francs", f"{amount} fr.")) if french else f"£{amount}"
    if kind < 0.85:
        return f"n° {day}" if french else f"No. {day}"
    if kind < 0.9:
        return f"{year}-{year + int(rng.integers(1, 5))}"
    if kind < 0.95:
        return f"{day}{',' if french else '.'}{int(rng.integers(0, 10))}"
    return f"{day}h{int(rng.integers(0, 60)):02d}" if french else f"{int(rng.integers(1, 5))}/{int(rng.integers(2, 9))}"


class TextSampler:
    """Line texts, all inside ``alphabet`` when one is given (never a character a model can't write)."""

    def __init__(
        self, corpus: Path | None = None, alphabet: Iterable[str] | None = None, french_fraction: float = 0.4
    ) -> None:
        self.alphabet = None if alphabet is None else frozenset(alphabet)
        if self.alphabet is not None and " " not in self.alphabet:  # lines of words would all be refused
            raise AlphabetError("the alphabet has no space: synthetic lines are words with spaces between them; add ' '")
        self.french_fraction = french_fraction
        self.corpus = None if corpus is None else Path(corpus)
        self.corpus_words = [] if self.corpus is None else _read_corpus(self.corpus)
        if self.corpus is None:
            self.english = _english(self.allows)
            self.french = _french(self.allows)

    def allows(self, text: str) -> bool:
        return self.alphabet is None or set(text) <= self.alphabet

    def sample(self, rng: np.random.Generator) -> str:
        """One line of text (NFC), 1-12 words, mostly 15-60 characters."""
        for _ in range(MAX_TRIES):
            text = self._prose(rng) if self.corpus is None else self._corpus_chunk(rng)
            if text and self.allows(text):
                return text
        where = "the built-in text" if self.corpus is None else f"corpus {self.corpus}"
        raise AlphabetError(f"{where} gives no line inside the alphabet in {MAX_TRIES} tries; widen the alphabet")

    @staticmethod
    def _target_length(rng: np.random.Generator) -> float:
        """Line length in characters, log-normal like the real lines (median 34)."""
        return float(np.clip(rng.lognormal(np.log(34.0), 0.55), 3.0, 80.0))

    def _corpus_chunk(self, rng: np.random.Generator) -> str:
        words = self.corpus_words
        start, target = int(rng.integers(len(words))), self._target_length(rng)
        chunk = [words[start]]
        while start + len(chunk) < len(words) and len(chunk) < MAX_WORDS and len(" ".join(chunk)) < target:
            chunk.append(words[start + len(chunk)])
        return " ".join(chunk)

    def _prose(self, rng: np.random.Generator) -> str:
        french = rng.random() < self.french_fraction
        vocabulary = self.french if french else self.english
        apostrophe = "’" if rng.random() < P_CURLY_APOSTROPHE else "'"
        ampersand = not french and rng.random() < P_AMPERSAND_LINE
        spaced_marks = french and rng.random() < 0.5
        target = self._target_length(rng)
        tokens: list[str] = []
        previous: str | None = None
        sentence_start = rng.random() > P_MID_SENTENCE_START
        while len(tokens) < MAX_WORDS and len(" ".join(tokens)) < target:
            if rng.random() < P_NUMBER:
                token, previous = _number(rng, french), None
            else:
                previous = vocabulary.draw(rng, previous)
                token = self._dress(previous, rng, sentence_start, french, apostrophe, ampersand)
            if french and tokens and tokens[-1].lower() in ELIDED and _elides(token):
                tokens[-1] = tokens[-1][:-1] + apostrophe + token
            elif not french and tokens and _compounds(tokens[-1], token) and rng.random() < P_COMPOUND:
                tokens[-1] = tokens[-1] + "-" + token
            else:
                tokens.append(token)
            sentence_start = self._punctuate(tokens, rng, spaced_marks)
        self._decorate(tokens, rng, french)
        return unicodedata.normalize("NFC", " ".join(tokens))

    @staticmethod
    def _dress(
        word: str, rng: np.random.Generator, sentence_start: bool, french: bool, apostrophe: str, ampersand: bool
    ) -> str:
        if ampersand and word == "and":
            return "&"
        if sentence_start or (len(word) > 3 and rng.random() < P_NAME):
            word = _capitalise(word)
        elif len(word) <= 5 and rng.random() < P_ACRONYM:
            word = word.upper()
        if not french and len(word) > 4 and word.isalpha() and rng.random() < P_POSSESSIVE:
            word += "'s"
        return word.replace("'", apostrophe)

    @staticmethod
    def _punctuate(tokens: list[str], rng: np.random.Generator, spaced_marks: bool) -> bool:
        """Maybe end the last token with punctuation; True if that ended a sentence."""
        draw = rng.random()
        space = " " if spaced_marks else ""
        if draw < P_FULL_STOP:
            mark = "." if rng.random() < 0.9 else _choose(rng, ("!", "!", "?"))
            tokens[-1] += mark if mark == "." else space + mark
            return True
        draw -= P_FULL_STOP
        if draw < P_COMMA:
            tokens[-1] += ","
        elif draw < P_COMMA + P_COLON:
            tokens[-1] += space + ":"
        elif draw < P_COMMA + P_COLON + P_SEMICOLON:
            tokens[-1] += space + ";"
        return False

    @staticmethod
    def _decorate(tokens: list[str], rng: np.random.Generator, french: bool) -> None:
        """Brackets, quotes, a dash or an end-of-line hyphen, at the rates of real lines."""
        if len(tokens) > 2 and rng.random() < P_DASH:
            tokens.insert(int(rng.integers(1, len(tokens))), "-")
        if rng.random() < P_BRACKETS:
            start = int(rng.integers(len(tokens)))
            end = min(len(tokens), start + int(rng.integers(1, 4))) - 1
            tokens[start] = "(" + tokens[start]
            tokens[end] += ")"
        if rng.random() < P_QUOTES:
            start = int(rng.integers(len(tokens)))
            end = min(len(tokens), start + int(rng.integers(1, 5))) - 1
            opening, closing = ("«", "»") if french and rng.random() < 0.6 else ('"', '"')
            tokens[start] = opening + tokens[start]
            tokens[end] += closing
        last = tokens[-1]
        if len(last) >= 6 and last.isalpha() and rng.random() < P_HYPHENATED_END:
            tokens[-1] = last[: int(rng.integers(3, len(last) - 2))] + "-"


def _read_corpus(path: Path) -> list[str]:
    """The corpus as one list of words: lines and running text are chunked alike."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: corpus file not found") from None
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: corpus is not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read corpus ({error.strerror})") from None
    # format characters (soft hyphens, zero-width spaces) draw nothing, and a label must be what the image shows
    text = unicodedata.normalize("NFC", text)
    text = text.translate({ord(char): None for char in set(text) if unicodedata.category(char) == "Cf"})
    words = text.split()
    if not words:
        raise DatasetError(f"{path}: corpus has no words")
    return words
