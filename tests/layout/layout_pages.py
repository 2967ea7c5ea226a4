"""A recognizer stub for layout tests (the pages come from generated.printed_page)."""

from __future__ import annotations

from linescribe.inference import Prediction


def spread(text: str, width: int) -> tuple[tuple[int, int], ...]:
    """Character positions that share a crop's width evenly, as a stub's guess."""
    step = width / max(len(text), 1)
    return tuple((round(i * step), max(round(i * step) + 1, round((i + 1) * step))) for i in range(len(text)))


class EchoRecognizer:
    """Reads every crop as "line N" (N its position in the batch), its characters spread over the
    crop's width, and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, crops):
        assert isinstance(crops, list), "read_page must pass the crops as one list"
        self.calls.append(len(crops))
        return [
            Prediction(f"<crop {n}>", f"line {n}", 0.5 + n / 100, char_confidences=(0.9,) * len(f"line {n}"),
                       char_positions=spread(f"line {n}", crop.shape[1]))
            for n, crop in enumerate(crops)
        ]
