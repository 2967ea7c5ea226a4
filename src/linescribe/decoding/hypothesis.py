"""The one result type that every decoder returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from linescribe.alphabet import BLANK_ID


@dataclass(frozen=True)
class Alternative:
    """One entry of a beam decoder's n-best list.

    ``probability``: the share of this text among the decoder's final beams (softmax of their
    scores), so the list's probabilities sum to at most 1. ``score``: the decoder's own log score
    (CTC log-probability, plus the weighted LM log-probability and word bonuses for LM decoders).
    The CTC part sums the paths the search kept, a lower bound that pruning can leave lower for
    one text than another, so now and then an alternative is likelier than the first text.
    """

    text: str
    probability: float
    score: float


@dataclass(frozen=True)
class Hypothesis:
    """Decoded text with a confidence in [0, 1] per character and for the whole line.

    ``char_confidences[i]`` belongs to ``text[i]``: the highest probability the network gave that
    character on the frames that wrote it. The line's confidence is their mean
    (``line_confidence``). ``char_frames[i]`` is ``(first, last + 1)`` of those frames: where in
    the line the network wrote ``text[i]`` (empty when the text could not be aligned). Beam
    decoders also fill ``alternatives`` (best first, the first being ``text``).
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = field(default=())
    alternatives: tuple[Alternative, ...] = field(default=())
    char_frames: tuple[tuple[int, int], ...] = field(default=())

    @property
    def word_confidences(self) -> tuple[tuple[str, float], ...]:
        """(word, confidence) for each whitespace-separated word: the lowest confidence among its
        characters (a word is only as sure as its least sure character)."""
        if len(self.char_confidences) != len(self.text):
            return ()
        words: list[tuple[str, float]] = []
        start = None
        for index, char in enumerate(self.text + " "):
            if char.isspace():
                if start is not None:
                    words.append((self.text[start:index], min(self.char_confidences[start:index])))
                    start = None
            elif start is None:
                start = index
        return tuple(words)


def line_confidence(char_confidences: Sequence[float], log_probs: np.ndarray) -> float:
    """A reading's confidence: the mean of its characters', or for an empty reading the lowest
    probability of blank over the line's frames ``log_probs`` (T, C), how near it came to
    reading a character (a stretch of blank paper is near 1, a line the network could not make
    out well below); 1.0 for a line of no frames."""
    if char_confidences:
        return sum(char_confidences) / len(char_confidences)
    return float(np.exp(log_probs[:, BLANK_ID].min())) if len(log_probs) else 1.0
