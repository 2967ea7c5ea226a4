"""Pages made of printed lines (fast, no fonts to load) and a recognizer stub, for layout tests."""

from __future__ import annotations

import numpy as np
from generated import render_line

from linescribe.data.synth.page import PageConfig, SyntheticPage, compose_page
from linescribe.inference import Prediction

TEXTS = ["the cat sat on the mat", "a dog ran far away", "home and away", "the mat and the dog", "far far away home"]

TWO_COLUMNS = ["left one here", "left two", "left three now", "right one", "right two here", "right three"]

STILL = {"skew_degrees": 0.0, "perspective": 0.0, "lighting": 0.2, "ruled_probability": 0.0, "noise": 2.0}
"""A flat, level, unruled photo: each test switches on the difficulty it is about."""


def printed_page(texts: list[str] = TEXTS, seed: int = 0, **config) -> SyntheticPage:
    """A page of printed lines with their true outlines, seeded."""
    lines = [(np.asarray(render_line(text, size=28, seed=number)), text) for number, text in enumerate(texts)]
    return compose_page(lines, np.random.default_rng(seed), PageConfig(**{**STILL, **config}))


class EchoRecognizer:
    """Reads every crop as "line N" (N its position in the batch) and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, crops):
        assert isinstance(crops, list), "read_page must pass the crops as one list"
        self.calls.append(len(crops))
        return [Prediction(f"<crop {n}>", f"line {n}", 0.5 + n / 100) for n in range(len(crops))]
