"""CTC prefix beam search, alone or with a word n-gram language model (shallow fusion).

Each beam is a text prefix with two CTC probabilities: of all the paths that spell it and end in
a blank (``p_blank``), and of those that end in its last character (``p_char``) (Graves 2012,
Hannun et al. 2014). A frame either keeps a prefix (blank, or its last character repeated) or
extends it by one character; prefixes that meet are merged by adding their probabilities. After
each frame the ``beam_width`` best prefixes are kept, ranked by

    log p_ctc(prefix) + lm_weight * ln p_lm(its complete words) + word_bonus * (number of words)

A word is scored when it is complete (a non-letter follows it, or the line ends), given the words
before it on the line; lines start and end without sentence marks, since a line is rarely a
sentence. Words the LM does not know are scored as ``<unk>``. (Word beam search, which constrains every
word to the lexicon, was measured and dropped: it lost to this on CER and WER, see the README's
decoder benchmark.) Without an LM and with width 1 the search keeps the
best prefix of each frame, which on confident frames is exactly greedy decoding.
"""

from __future__ import annotations

import heapq
import itertools
import math
import numbers
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from typing import Any, NamedTuple

import numpy as np

from linescribe.alphabet import BLANK_ID, Alphabet
from linescribe.decoding.alignment import align_chars, ctc_log_likelihood
from linescribe.decoding.frames import frame_array
from linescribe.decoding.hypothesis import Alternative, Hypothesis, line_confidence
from linescribe.errors import LinescribeError
from linescribe.lm import (
    DEFAULT_LM_WEIGHT,
    DEFAULT_OOV_PENALTY,
    TUNED_LM_WEIGHTS,
    TUNED_OOV_PENALTIES,
    bundled_lm_name,
    load_lm,
    read_lexicon,
)
from linescribe.lm.arpa import LanguageModelError, NgramModel
from linescribe.lm.words import APOSTROPHES, WORD_PATTERN, word_key

NEG_INF = float("-inf")
LN10 = math.log(10.0)


CHAR_MIN_LOGP = -6.0
"""Characters less likely than this (log-probability) on a frame are not tried there. Chosen on
hooker, copiste and poilus val (``benchmarks/decoders.py --pruning``, README "Decoders"): from
-12 to -6 beam_lm's CER moved by -0.08 to -0.07 points and the decoder ran 4-6x faster; at -5
and above CER rose on hooker."""


def _log_add(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a >= b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


def trie_key(text: str) -> str:
    """``word_key`` as the lexicon trie is walked, one written character at a time: lower-casing a
    whole word writes Greek sigma as final ``ς`` where the character alone gives ``σ``, so both
    are ``σ`` here (one character can still give two, Turkish ``İ``)."""
    return word_key(text).replace("\u03c2", "\u03c3")


class Lexicon:
    """A set of words (as the LM spells them) stored as a trie, for prefix checks. Entries that a
    line's text never yields as one word (``c'est-à-dire``, ``c3po``) are left out: as prefixes
    they would only keep beams from the words they start with (``c'est``)."""

    END = ""

    def __init__(self, words: Iterable[str]) -> None:
        self.root: dict[str, dict] = {}
        self.size = 0
        for word in words:
            key = trie_key(word)
            if not WORD_PATTERN.fullmatch(key.rstrip("'")):  # elided words (l', qu') stay
                continue
            node = self.root
            for char in key:
                node = node.setdefault(char, {})
            if self.END not in node:
                node[self.END] = {}
                self.size += 1

    def __len__(self) -> int:
        return self.size

    def __contains__(self, word: str) -> bool:
        node = _walk(self.root, trie_key(word))
        return node is not None and self.END in node


def _walk(node: dict | None, key: str) -> dict | None:
    """The trie node ``key`` leads to from ``node``, or None where no lexicon word goes on so."""
    for char in key:
        if node is None:
            return None
        node = node.get(char)
    return node


class _Reading(NamedTuple):
    """One way of reading the word being written against the lexicon.

    ``start``: where the word the LM will score starts in the text (after an elided word the
    lexicon holds, ``l'`` or ``quelqu'``, the word that leans on it); ``node``: the lexicon trie
    node of ``text[start:]``. ``known_end`` >= 0: the lexicon word ``text[start:known_end]`` was
    followed there by an apostrophe that ends it (a closing quote, ``dogs'``, ``sister'``), and
    ``possessive``: then by an ``s`` (``hooker's``).
    """

    start: int
    node: dict
    known_end: int = -1
    possessive: bool = False

    @property
    def is_word(self) -> bool:
        """Whether the text read so far is a whole word under this reading."""
        return self.known_end >= 0 or Lexicon.END in self.node


def _letters(word: str) -> int:
    return sum(char.isalpha() and char not in APOSTROPHES for char in word)


class WordScorer:
    """Scores words as a beam writes them (natural log, already weighted).

    A scorer state is ``(context, word_start, readings)``: the LM context (last words of the
    line), where the word being written started in the text (-1 outside a word), and the ways of
    reading that partial word against the lexicon (``_Reading``; None once none is left, or
    without a lexicon).

    A word the lexicon does not know pays ``oov_penalty`` per letter plus ``oov_word_penalty``
    once, from the letter where no lexicon word starts like it, so that beams do not put off the
    cost by leaving words open. Mostly per letter: with a fixed cost per unknown word, two
    unknown words written as one paid it once instead of twice, and beams dropped even a certain
    space between them (``zorblatquentyx``). A written word is scored as the first of these that
    the lexicon allows: the whole word (as the LM was counted); the word after an elided word the
    lexicon holds with its apostrophe (French ``l'``, ``qu'``, ``quelqu'``: ``l'homme`` is scored
    as ``homme``, since the bundled French LM barely knows ``c'`` and beams dropped the ``c`` of
    ``c'est``); a known word followed by apostrophes that end it (a closing quote, ``dogs'``,
    ``sister'`` even though the lexicon holds ``sister's``) or by ``'s`` (``hooker's``).
    """

    def __init__(
        self,
        lm: NgramModel | None,
        lm_weight: float,
        word_bonus: float,
        lexicon: Lexicon | None = None,
        oov_penalty: float = 0.0,
        oov_word_penalty: float = 0.0,
    ) -> None:
        self.lm = lm
        self.lm_weight = lm_weight
        self.word_bonus = word_bonus
        self.lexicon = lexicon
        self.oov_penalty = oov_penalty
        self.oov_word_penalty = oov_word_penalty
        self._word_cache: dict[tuple[tuple[str, ...], str], float] = {}

    def initial(self) -> tuple:
        return ((), -1, None)

    def _word_score(self, context: tuple[str, ...], key: str) -> float:
        cached = self._word_cache.get((context, key))
        if cached is None:
            if len(self._word_cache) > 500_000:
                self._word_cache.clear()
            cached = self.word_bonus
            if self.lm is not None and self.lm_weight:
                cached += self.lm_weight * LN10 * self.lm.log10_prob(context, key)
            self._word_cache[(context, key)] = cached
        return cached

    def _unknown(self, word: str) -> float:
        """What an unknown word of these letters pays at once (the letters written so far)."""
        return self.oov_word_penalty + self.oov_penalty * _letters(word)

    def _complete(self, state: tuple, text: str) -> tuple[tuple, float]:
        """The state and score after the word being written ends (at the end of ``text``)."""
        context, start, readings = state
        if start < 0:
            return state, 0.0
        if readings is None:  # no lexicon, or an unknown word that has paid as it was written
            key = word_key(text[start:])
            score = self._word_score(context, key)
        else:
            reading = next((r for r in readings if r.is_word), None)
            if reading is None:  # only a lexicon prefix so far: it has not paid yet
                key = word_key(text[readings[-1].start :])
                score = self._word_score(context, key) + self._unknown(key)
            else:
                key = word_key(text[reading.start : reading.known_end if reading.known_end >= 0 else len(text)])
                score = self._word_score(context, key)
        if self.lm is not None:
            context = self.lm.state(context, key)
        return (context, -1, None), score

    def extend(self, state: tuple, text: str, char: str) -> tuple[tuple, float]:
        """State and score change when ``char`` is appended to ``text``."""
        context, start, readings = state
        is_apostrophe = char in APOSTROPHES
        is_letter = char.isalpha() and not is_apostrophe  # U+02BC is a letter to Unicode
        if not (is_letter or (start >= 0 and is_apostrophe)):
            return self._complete(state, text)
        if self.lexicon is None:
            return (context, start if start >= 0 else len(text), None), 0.0
        if start < 0:
            start, readings = len(text), (_Reading(len(text), self.lexicon.root),)
        if readings is None:  # outside the lexicon already: each further letter pays
            return (context, start, None), (self.oov_penalty if is_letter else 0.0)
        key = trie_key(char)
        following: list[_Reading] = []
        for reading in readings:  # earliest start first, which is the order _complete prefers
            if reading.known_end >= 0:  # after the apostrophe that ended a known word
                if is_apostrophe:
                    following.append(reading)
                elif key == "s" and not reading.possessive and text[-1] in APOSTROPHES:
                    following.append(reading._replace(possessive=True))
                continue
            child = _walk(reading.node, key)
            if child is not None:
                following.append(reading._replace(node=child))
            if is_apostrophe and Lexicon.END in reading.node:
                following.append(reading._replace(known_end=len(text)))
            if is_apostrophe and child is not None and Lexicon.END in child:
                # an elided word the lexicon holds (l', quelqu'): the word after it may lean on it
                following.append(_Reading(len(text) + 1, self.lexicon.root))
        if not following:  # no lexicon word reads like this: unknown from the latest reading on
            start = readings[-1].start
            return (context, start, None), self._unknown(text[start:] + char)
        if len(following) > 1:
            following.sort(key=lambda reading: reading.start)
        return (context, start, tuple(following)), 0.0

    def finish(self, state: tuple, text: str) -> float:
        """Score of the word left open at the end of the line."""
        return self._complete(state, text)[1]

    def text_score(self, text: str) -> float:
        """The words of a whole ``text`` scored, as a beam that wrote it would have summed."""
        state, total = self.initial(), 0.0
        for index, char in enumerate(text):
            state, score = self.extend(state, text[:index], char)
            total += score
        return total + self.finish(state, text)


class _Beam:
    __slots__ = ("last", "lm_score", "p_blank", "p_char", "state")

    def __init__(self, p_blank: float, p_char: float, last: int, state: tuple | None, lm_score: float) -> None:
        self.p_blank = p_blank
        self.p_char = p_char
        self.last = last
        self.state = state
        self.lm_score = lm_score


def prefix_beam_search(
    log_probs: np.ndarray,
    chars: Sequence[str],
    beam_width: int,
    scorer: WordScorer | None = None,
    char_min_logp: float = CHAR_MIN_LOGP,
) -> list[tuple[str, float, float]]:
    """log_probs (T, C) of one line (blank = class 0, class i = ``chars[i - 1]``) ->
    ``[(text, ctc log-prob, word score)]`` of the final beams, best total first.

    Characters with a frame log-probability below ``char_min_logp`` are not tried on that frame
    (the frame's best character always is).
    """
    beams: dict[str, _Beam] = {"": _Beam(0.0, NEG_INF, BLANK_ID, scorer.initial() if scorer else None, 0.0)}
    for row_array in log_probs:
        row = row_array.tolist()
        candidates = np.flatnonzero(row_array > char_min_logp).tolist()
        best = int(row_array.argmax())
        if best not in candidates:
            candidates.append(best)
        candidates = [c for c in candidates if c != BLANK_ID]
        blank = row[BLANK_ID]
        following: dict[str, _Beam] = {}
        for text, beam in beams.items():
            total = _log_add(beam.p_blank, beam.p_char)
            stay = following.get(text)
            if stay is None:
                stay = following[text] = _Beam(NEG_INF, NEG_INF, beam.last, beam.state, beam.lm_score)
            stay.p_blank = _log_add(stay.p_blank, total + blank)
            if beam.last != BLANK_ID:
                stay.p_char = _log_add(stay.p_char, beam.p_char + row[beam.last])
            for class_id in candidates:
                extended = (beam.p_blank if class_id == beam.last else total) + row[class_id]
                if extended == NEG_INF:
                    continue
                char = chars[class_id - 1]
                new_text = text + char
                target = following.get(new_text)
                if target is None:
                    state, score = scorer.extend(beam.state, text, char) if scorer else (None, 0.0)
                    target = following[new_text] = _Beam(NEG_INF, NEG_INF, class_id, state, beam.lm_score + score)
                target.p_char = _log_add(target.p_char, extended)
        if len(following) > beam_width:
            kept = heapq.nlargest(
                beam_width, following.items(), key=lambda item: _log_add(item[1].p_blank, item[1].p_char) + item[1].lm_score
            )
            beams = dict(kept)
        else:
            beams = following
    results = [
        (text, _log_add(beam.p_blank, beam.p_char), beam.lm_score + (scorer.finish(beam.state, text) if scorer else 0.0))
        for text, beam in beams.items()
    ]
    # pruning can drop the frame-wise best text on the way: scored over all its paths, it joins
    # the final beams. (A text still among them keeps the sum of the paths its beam kept, as the
    # others do: scoring only it in full tilted the choice towards it, +0.1 CER point on hooker val.
    # Scoring every final text on all its paths, which makes the ranking exact, moved CER by -0.06
    # to +0.10 points on 300 lines each of hooker, copiste and poilus val, and cost 15 ms a line.)
    greedy_ids = [c for c, _ in itertools.groupby(log_probs.argmax(axis=1).tolist()) if c != BLANK_ID]
    greedy_text = "".join(chars[c - 1] for c in greedy_ids)
    if greedy_text not in beams:
        words = scorer.text_score(greedy_text) if scorer else 0.0
        results.append((greedy_text, ctc_log_likelihood(log_probs, greedy_ids), words))
    results.sort(key=lambda item: item[1] + item[2], reverse=True)
    return results


class BeamDecoder:
    """CTC prefix beam search without a language model: ``BeamDecoder(beam_width=16)``.

    ``n_best`` alternatives are returned with each hypothesis.
    """

    def __init__(self, beam_width: int = 16, n_best: int = 5, char_min_logp: float = CHAR_MIN_LOGP) -> None:
        if not _is_count(beam_width):  # refused here, not as a TypeError after the network has run
            raise LinescribeError(f"the beam width must be a whole number of at least 1, got {beam_width!r}")
        if not _is_count(n_best):
            raise LinescribeError(f"n_best must be a whole number of at least 1, got {n_best!r}")
        if char_min_logp != -math.inf:  # -inf tries every character on every frame
            _check_finite("char_min_logp", char_min_logp)
        self.beam_width = beam_width
        self.n_best = n_best
        self.char_min_logp = char_min_logp

    def scorer(self, alphabet: Alphabet) -> WordScorer | None:
        return None

    def __call__(self, log_probs: Any, lengths: Any, alphabet: Alphabet) -> list[Hypothesis]:
        """log_probs (T, N, C), lengths (N,) (numpy arrays or torch tensors) -> one Hypothesis per line."""
        scorer = self.scorer(alphabet)
        frames = frame_array(log_probs)
        hypotheses = []
        for line, length in enumerate(lengths.tolist()):
            line_log_probs = frames[:length, line]
            results = prefix_beam_search(line_log_probs, alphabet.chars, self.beam_width, scorer, self.char_min_logp)
            hypotheses.append(self._hypothesis(line_log_probs, results, alphabet))
        return hypotheses

    def _hypothesis(self, log_probs: np.ndarray, results: list[tuple[str, float, float]], alphabet: Alphabet) -> Hypothesis:
        scores = np.array([ctc + words for _, ctc, words in results])
        top = scores.max()  # -inf when no text is possible at all: then none is likelier
        shares = np.exp(scores - top) if np.isfinite(top) else np.ones_like(scores)
        shares /= shares.sum()
        alternatives = tuple(
            Alternative(text, float(share), float(score))
            for (text, _, _), share, score in zip(results[: self.n_best], shares, scores)
        )
        text = results[0][0]
        aligned = align_chars(log_probs, alphabet.encode(text))
        confidences = aligned.confidences if aligned else tuple(0.0 for _ in text)
        return Hypothesis(text, line_confidence(confidences, log_probs), confidences, alternatives, aligned.frames if aligned else ())


class LMBeamDecoder(BeamDecoder):
    """Prefix beam search with a word n-gram LM: ``LMBeamDecoder(lm="english", lm_weight=0.3,
    word_bonus=2.0)``. ``lm``: an ARPA file, a bundled LM's name, or a loaded ``NgramModel``.
    ``lm_weight``, ``oov_word_penalty`` and ``oov_penalty`` (what a word outside the lexicon pays
    once and per letter) left out: the values tuned for that bundled LM (``TUNED_LM_WEIGHTS``,
    ``TUNED_OOV_PENALTIES``), else ``DEFAULT_LM_WEIGHT`` and ``DEFAULT_OOV_PENALTY``.
    ``lexicon`` (a file or a set of words) limits the known words to that list: other words are
    scored as ``<unk>``."""

    def __init__(
        self,
        beam_width: int = 16,
        n_best: int = 5,
        lm: str | Path | NgramModel | None = "english",
        lm_weight: float | None = None,
        word_bonus: float = 2.0,
        lexicon: str | Path | Iterable[str] | None = None,
        oov_penalty: float | None = None,
        oov_word_penalty: float | None = None,
        char_min_logp: float = CHAR_MIN_LOGP,
    ) -> None:
        super().__init__(beam_width, n_best, char_min_logp)
        bundled = bundled_lm_name(lm) if isinstance(lm, (str, Path)) else None
        if lm_weight is None:
            lm_weight = TUNED_LM_WEIGHTS.get(bundled, DEFAULT_LM_WEIGHT)
        tuned_word, tuned_letter = TUNED_OOV_PENALTIES.get(bundled, DEFAULT_OOV_PENALTY)
        oov_word_penalty = tuned_word if oov_word_penalty is None else oov_word_penalty
        oov_penalty = tuned_letter if oov_penalty is None else oov_penalty

        if lm is None and lexicon is None:
            raise LinescribeError(f"the {type(self).__name__} needs a language model or a lexicon")
        weights = {"lm_weight": lm_weight, "word_bonus": word_bonus, "oov_penalty": oov_penalty,
                   "oov_word_penalty": oov_word_penalty}
        for name, value in weights.items():
            _check_finite(name, value)
        if lm_weight < 0:
            raise LinescribeError(f"lm_weight must be 0 or more (a negative weight favours improbable words), got {lm_weight!r}")
        loaded = lm if isinstance(lm, NgramModel) or lm is None else load_lm(lm)
        if isinstance(lm, NgramModel) or not (lexicon is None or isinstance(lexicon, (str, Path))):
            self.lm, self.lexicon = _lm_and_lexicon(loaded, lexicon)  # the caller's own objects: not kept alive in a cache
        else:
            self.lm, self.lexicon = _shared_lexicon(loaded, lexicon)
        self.lm_weight = lm_weight
        self.word_bonus = word_bonus
        self.oov_penalty = oov_penalty
        self.oov_word_penalty = oov_word_penalty
        self._scorer = WordScorer(self.lm, lm_weight, word_bonus, self.lexicon, oov_penalty, oov_word_penalty)

    def scorer(self, alphabet: Alphabet) -> WordScorer:
        return self._scorer


def _is_count(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def _check_finite(name: str, value: Any) -> None:
    """Refuse a score option that is not a finite number: NaN leaves the order of the beams to
    chance, and a string fails only in the middle of a search."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise LinescribeError(f"{name} must be a finite number, got {value!r}")


def _lm_and_lexicon(lm: NgramModel | None, lexicon: str | Path | Iterable[str] | None) -> tuple[Any, Lexicon]:
    """The LM as the decoder scores with it and the lexicon trie: ``lexicon`` (a word-list file or
    the words) is the known words, and the LM scores words outside it as unknown; None: the LM's
    vocabulary."""
    if lexicon is None:
        return lm, Lexicon(lm.vocabulary)
    words = read_lexicon(lexicon) if isinstance(lexicon, (str, Path)) else {word_key(word) for word in lexicon}
    trie = Lexicon(words)
    if not trie:
        source = lexicon if isinstance(lexicon, (str, Path)) else "the lexicon"
        raise LanguageModelError(f"{source}: no entry is a word (letters with inner apostrophes)")
    return (_RestrictedLM(lm, words) if lm is not None else None), trie


_SHARED_LEXICONS: dict[tuple[int, str | None, int], tuple[NgramModel | None, Any, Lexicon]] = {}
"""(id of a bundled or file LM from ``load_lm``, lexicon file, its mtime) -> (that LM,
``_lm_and_lexicon``): a decoder for another weight, as each web request may ask for, builds no
new trie (2 s and 60 MB for French)."""
MAX_SHARED_LEXICONS = 8
_SHARED_LEXICONS_LOCK = threading.Lock()


def _shared_lexicon(lm: NgramModel | None, lexicon: str | Path | None) -> tuple[Any, Lexicon]:
    """``_lm_and_lexicon`` for an LM and a lexicon file, built once per process."""
    path = str(Path(lexicon).resolve()) if lexicon is not None else None
    try:
        modified = Path(lexicon).stat().st_mtime_ns if lexicon is not None else 0
    except OSError:
        modified = 0  # read_lexicon names the file and the problem
    key = (id(lm), path, modified)
    with _SHARED_LEXICONS_LOCK:  # one build per key, even when requests ask for it at once
        shared = _SHARED_LEXICONS.get(key)
        if shared is None or shared[0] is not lm:  # an id can be reused once its LM is gone
            shared = (lm, *_lm_and_lexicon(lm, lexicon))
            while len(_SHARED_LEXICONS) >= MAX_SHARED_LEXICONS:
                del _SHARED_LEXICONS[next(iter(_SHARED_LEXICONS))]
            _SHARED_LEXICONS[key] = shared
    return shared[1], shared[2]


class _RestrictedLM:
    """An LM that treats words outside a lexicon as unknown."""

    def __init__(self, lm: NgramModel, words: set[str]) -> None:
        self._lm = lm
        self._words = words
        self.order = lm.order

    def state(self, context: Iterable[str], word: str) -> tuple[str, ...]:
        return self._lm.state(context, word if word in self._words else "<unk>")

    def log10_prob(self, context: tuple[str, ...], word: str) -> float:
        return self._lm.log10_prob(context, word if word in self._words else "<unk>")
