"""Reading a labelled dataset with a model and scoring it (``linescribe eval``)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from linescribe.data.images import load_sample_image
from linescribe.data.sample import Sample
from linescribe.errors import DatasetError
from linescribe.inference import Recognizer
from linescribe.metrics import ErrorRates, confusions


@dataclass(frozen=True)
class LineResult:
    id: str
    reference: str
    prediction: str
    distance: int
    confidence: float


@dataclass
class EvalResult:
    rates: ErrorRates = field(default_factory=ErrorRates)
    lines: list[LineResult] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    lines_outside_alphabet: int = 0
    seconds: float = 0.0

    def confusions(self, top: int = 20) -> list[tuple[str, str, int]]:
        counts: Counter[tuple[str, str]] = confusions([l.reference for l in self.lines], [l.prediction for l in self.lines])
        return [(ref, hyp, count) for (ref, hyp), count in counts.most_common(top)]

    def summary(self) -> dict[str, object]:
        return {
            **self.rates.as_dict(),
            "unreadable_images": len(self.unreadable),
            "lines_with_chars_outside_alphabet": self.lines_outside_alphabet,
            "seconds": self.seconds,
            "lines_per_second": self.rates.lines / self.seconds if self.seconds else 0.0,
        }


def evaluate(
    recognizer: Recognizer,
    samples: Sequence[Sample],
    load: Callable[[Sample], np.ndarray] = load_sample_image,
    strict: bool = False,
) -> EvalResult:
    """Read every sample and compare with its transcription.

    Lines with characters the model cannot write are scored (those characters count as errors)
    and counted, and so are lines whose image cannot be decoded (read as nothing, and listed;
    ``strict`` stops at the first instead), so that a CER is never flattered by silently
    dropping hard lines. Images are
    decoded (and cropped out of their pages) by the recognizer's threads while it reads, with
    ``load`` (another loader reads them altered, e.g. augmented as in training).
    """
    result = EvalResult()
    alphabet = recognizer.model.alphabet
    start = time.perf_counter()
    for sample, prediction in zip(samples, recognizer.predict_iter(samples, load=load)):
        if not prediction.ok:
            if strict:
                raise DatasetError(f"{sample.id}: {prediction.error} (--strict)")
            result.unreadable.append(f"{sample.id}: {prediction.error}")
        distance = result.rates.add(sample.text, prediction.text)  # an unreadable image's text is ""
        result.lines_outside_alphabet += bool(alphabet.unknown_chars(sample.text))
        result.lines.append(LineResult(sample.id, sample.text, prediction.text, distance, prediction.confidence))
    result.seconds = time.perf_counter() - start
    if len(result.unreadable) == len(result.lines):
        reason = f"all {len(result.unreadable)} images are unreadable" if result.unreadable else "the datasets select no lines"
        raise DatasetError(f"nothing to evaluate: {reason}")
    return result
