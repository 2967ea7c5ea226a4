"""Character and word error rates, computed at corpus level.

CER = (sum over lines of the character edit distance) / (sum of reference lengths in characters).
WER = the same over words (whitespace-separated tokens). Summing before dividing weights long
lines by their length, as the HTR literature does, instead of averaging per-line rates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein


def char_distance(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(reference, hypothesis)


def word_distance(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(reference.split(), hypothesis.split())


@dataclass
class ErrorRates:
    char_errors: int = 0
    chars: int = 0
    word_errors: int = 0
    words: int = 0
    lines: int = 0
    lines_correct: int = 0

    def add(self, reference: str, hypothesis: str) -> int:
        """Count one line; returns its character edit distance."""
        distance = char_distance(reference, hypothesis)
        self.char_errors += distance
        self.chars += len(reference)
        self.word_errors += word_distance(reference, hypothesis)
        self.words += len(reference.split())
        self.lines += 1
        self.lines_correct += int(reference == hypothesis)
        return distance

    @property
    def cer(self) -> float:
        return self.char_errors / max(self.chars, 1)

    @property
    def wer(self) -> float:
        return self.word_errors / max(self.words, 1)

    @property
    def line_accuracy(self) -> float:
        return self.lines_correct / max(self.lines, 1)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "cer": self.cer,
            "wer": self.wer,
            "line_accuracy": self.line_accuracy,
            "lines": self.lines,
            "chars": self.chars,
            "char_errors": self.char_errors,
            "words": self.words,
            "word_errors": self.word_errors,
        }


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> ErrorRates:
    rates = ErrorRates()
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        rates.add(reference, hypothesis)
    return rates


def confusions(references: Sequence[str], hypotheses: Sequence[str]) -> Counter[tuple[str, str]]:
    """How often each (reference, predicted) character pair was confused; '' marks a deletion
    (predicted '') or an insertion (reference '')."""
    counts: Counter[tuple[str, str]] = Counter()
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        for op in Levenshtein.editops(reference, hypothesis):
            if op.tag == "replace":
                counts[(reference[op.src_pos], hypothesis[op.dest_pos])] += 1
            elif op.tag == "delete":
                counts[(reference[op.src_pos], "")] += 1
            else:
                counts[("", hypothesis[op.dest_pos])] += 1
    return counts
