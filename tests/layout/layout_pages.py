"""A recognizer stub for layout tests (the pages come from generated.printed_page)."""

from __future__ import annotations

from linescribe.inference import Prediction


class EchoRecognizer:
    """Reads every crop as "line N" (N its position in the batch) and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, crops):
        assert isinstance(crops, list), "read_page must pass the crops as one list"
        self.calls.append(len(crops))
        return [Prediction(f"<crop {n}>", f"line {n}", 0.5 + n / 100) for n in range(len(crops))]
