"""Does a model underfit or overfit? Its greedy CER on lines it was trained on against its
validation CER, per line set, and on the same training lines augmented as in training.

    python benchmarks/fit_gap.py [--models default accurate] [--sets hooker copiste ...] [--limit 400]

Train CER close to val CER means the model has not learned even the lines it saw: more
capacity or more training (not more regularisation) is what lowers both. A train CER far below
val CER means it memorises and needs more data or regularisation instead. The training lines
are every k-th line of the set's train split (the same lines for every model); the augmented
column reads them through the training augmentation (one seeded draw per line).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from linescribe.data.augment import Augmenter
from linescribe.data.dataset import load_datasets
from linescribe.data.images import load_sample_image
from linescribe.data.sample import Sample
from linescribe.data.text import parse_rules
from linescribe.evaluation import evaluate
from linescribe.inference import load_recognizer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines"
SETS = ["hooker", "copiste", "poilus", "mss19", "peraire", "timeus"]


def augmented_loader(seed: int):
    """Loads a sample's image and augments it, the same way for the same sample every time."""
    augmenter = Augmenter()

    def load(sample: Sample) -> np.ndarray:
        rng = np.random.default_rng([seed, int.from_bytes(sample.id.encode(), "little")])
        return augmenter(load_sample_image(sample), rng)

    return load


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["default", "accurate"])
    parser.add_argument("--sets", nargs="+", default=SETS)
    parser.add_argument("--limit", type=positive, default=400, help="Training lines per set (every k-th line).")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"greedy CER, onnxruntime, {args.threads} thread(s); about {args.limit} training lines per set, all val lines")
    print("| model | set | train lines | train CER | train CER, augmented | val lines | val CER |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        recognizer = load_recognizer(name, backend="onnx", threads=args.threads)
        rules = parse_rules(recognizer.model.training.get("config", {}).get("text_rules", []))
        for line_set in args.sets:
            (train,) = load_datasets([str(DATA / line_set / "train")], False, rules)
            (val,) = load_datasets([str(DATA / line_set / "val")], False, rules)
            step = max(1, len(train.samples) // args.limit)
            seen = train.samples[::step]
            clean = evaluate(recognizer, seen).rates
            augmented = evaluate(recognizer, seen, load=augmented_loader(seed=0)).rates
            held_out = evaluate(recognizer, val.samples).rates
            print(f"| {name} | {line_set} | {clean.lines} | {clean.cer:.2%} | {augmented.cer:.2%} | {held_out.lines} | "
                  f"{held_out.cer:.2%} |", flush=True)


if __name__ == "__main__":
    main()
