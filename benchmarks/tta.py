"""Does test-time augmentation pay? Greedy CER and lines/s when each line is read in several
variants whose per-frame probabilities are averaged (or whose decoded strings vote), against
reading it once.

    python benchmarks/tta.py [--model default] [--splits hooker/val copiste/val ...] [--limit 150]
                             [--combine frames|vote]

Variants, all made after preprocessing so that the model's own normalisation is kept:
    slant     the line sheared by -s, 0, +s (x += s * (y - h/2)), same width, frames aligned
    stroke    ink thinned, as is, thickened (grey erosion / dilation, 2x2)
    width     the line stretched to 0.9, 1.0, 1.1 times its width; each variant's frame
              probabilities are resampled to the plain line's frame count before averaging
Combining: ``frames`` averages the variants' per-frame probabilities, then decodes once;
``vote`` decodes every variant and keeps the medoid string (the one with the least total edit
distance to the others; ties go to the plain read, else to the first tied variant), so a peak moved by a frame cannot cancel.
Validation splits only: test-time augmentation is a decoding choice, chosen on val like the
decoders' weights. The model runs on onnxruntime with one thread; lines/s include every variant.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from rapidfuzz.distance import Levenshtein

from linescribe.data.batching import pad_lines, width_sorted_batches
from linescribe.data.dataset import load_datasets
from linescribe.data.images import load_sample_image
from linescribe.data.text import parse_rules
from linescribe.decoding.greedy import greedy_decode
from linescribe.metrics import ErrorRates
from linescribe.modelfile import open_model

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines"
SPLITS = ["hooker/val", "copiste/val", "poilus/val", "mss19/val", "timeus/val"]
Variant = Callable[[np.ndarray], np.ndarray]


def shear(amount: float) -> Variant:
    def apply(line: np.ndarray) -> np.ndarray:
        height, width = line.shape
        matrix = np.float32([[1, amount, -amount * height / 2], [0, 1, 0]])
        return cv2.warpAffine(line, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0)

    return apply


def stroke(kind: str) -> Variant:
    kernel = np.ones((2, 2), np.uint8)
    return lambda line: (cv2.erode if kind == "thin" else cv2.dilate)(line, kernel)


def stretch(factor: float) -> Variant:
    return lambda line: cv2.resize(line, (max(16, round(line.shape[1] * factor)), line.shape[0]), interpolation=cv2.INTER_LINEAR)


def identity(line: np.ndarray) -> np.ndarray:
    return line


VARIANT_SETS: dict[str, list[Variant]] = {
    "none": [identity],
    "slant ±0.15": [shear(-0.15), identity, shear(0.15)],
    "slant ±0.3": [shear(-0.3), identity, shear(0.3)],
    "stroke": [stroke("thin"), identity, stroke("thick")],
    "width 0.9-1.1": [stretch(0.9), identity, stretch(1.1)],
    "slant ±0.15 + width": [shear(-0.15), shear(0.15), identity, stretch(0.9), stretch(1.1)],
}


def resample(probs: np.ndarray, frames: int) -> np.ndarray:
    """probs (T, C) linearly resampled to (frames, C) along time."""
    if probs.shape[0] == frames:
        return probs
    source = np.linspace(0, probs.shape[0] - 1, frames)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, probs.shape[0] - 1)
    weight = (source - low)[:, None]
    return probs[low] * (1 - weight) + probs[high] * weight


def frame_probs(net, lines: list[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
    """Per line, the network's probabilities (T_i, C) over its valid frames."""
    out: list[np.ndarray] = [np.empty(0)] * len(lines)
    for batch in width_sorted_batches([line.shape[1] for line in lines], batch_size):
        log_probs, lengths = net(*pad_lines([lines[i] for i in batch], 1))
        for column, index in enumerate(batch):
            out[index] = np.exp(log_probs[: lengths[column], column])
    return out


def greedy_text(probs: np.ndarray, alphabet) -> str:
    """Greedy decoding of one line's (T, C) probabilities."""
    log_probs = np.log(np.maximum(probs, 1e-12))[:, None, :].astype(np.float32)
    (hypothesis,) = greedy_decode(log_probs, np.array([probs.shape[0]]), alphabet)
    return hypothesis.text


def medoid(texts: list[str], first: int) -> str:
    """The text with the least total edit distance to the others; ties go to ``texts[first]``."""
    totals = [sum(Levenshtein.distance(text, other) for other in texts) for text in texts]
    best = min(totals)
    return texts[first] if totals[first] == best else texts[totals.index(best)]


def evaluate(
    net, alphabet, lines: list[np.ndarray], references: list[str], variants: list[Variant], combine: str
) -> tuple[ErrorRates, float]:
    start = time.perf_counter()
    per_variant = [frame_probs(net, [variant(line) for line in lines]) for variant in variants]
    base_index = variants.index(identity)
    rates = ErrorRates()
    for index, reference in enumerate(references):
        if combine == "vote":
            text = medoid([greedy_text(probs[index], alphabet) for probs in per_variant], base_index)
        else:
            frames = per_variant[base_index][index].shape[0]
            text = greedy_text(np.mean([resample(probs[index], frames) for probs in per_variant], axis=0), alphabet)
        rates.add(reference, text)
    return rates, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--splits", nargs="+", default=SPLITS)
    parser.add_argument("--limit", type=int, default=150, help="Lines per split (0: all).")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANT_SETS), default=list(VARIANT_SETS))
    parser.add_argument("--combine", choices=["frames", "vote"], default="frames")
    args = parser.parse_args()
    model = open_model(args.model, backend="onnx", threads=1)
    rules = parse_rules(model.training.get("config", {}).get("text_rules", []))
    print(f"model {model.name}; onnxruntime, 1 thread; greedy, variants combined by {args.combine}; "
          f"{args.limit or 'all'} lines per split")
    print("| split | variants | reads per line | CER | WER | lines/s |")
    print("|---|---|---|---|---|---|")
    totals: dict[str, ErrorRates] = {name: ErrorRates() for name in args.variants}
    for split in args.splits:
        (dataset,) = load_datasets([str(DATA / split)], False, rules)
        samples = dataset.samples[: args.limit] if args.limit else dataset.samples
        lines = [model.preprocessing(load_sample_image(sample)) for sample in samples]
        references = [sample.text for sample in samples]
        for name in args.variants:
            rates, seconds = evaluate(model.net, model.alphabet, lines, references, VARIANT_SETS[name], args.combine)
            for field in ("char_errors", "chars", "word_errors", "words", "lines"):
                setattr(totals[name], field, getattr(totals[name], field) + getattr(rates, field))
            print(f"| {split} ({len(lines)}) | {name} | {len(VARIANT_SETS[name])} | {rates.cer:.2%} | {rates.wer:.2%} | "
                  f"{len(lines) / seconds:.1f} |", flush=True)
    for name, rates in totals.items():
        print(f"| all | {name} | {len(VARIANT_SETS[name])} | {rates.cer:.2%} | {rates.wer:.2%} | |")


if __name__ == "__main__":
    main()
