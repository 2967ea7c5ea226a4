"""Inference speed of the default model and of the `seed` architecture, eager PyTorch on CPU.

    python benchmarks/infer_speed.py [--model default] [--lines 128] [--threads 2]

Both read the same real lines (../shared/data/lines/hooker/test, or rendered lines when it is
absent), already decoded to grayscale so that image decoding is not timed. `seed` has random
weights with the default model's alphabet: speed does not depend on what the weights say.
Reported: lines/s at batch 1 and 32 (preprocessing, network and greedy decoding), the median
latency of one line, and peak RSS. Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from linescribe.data.images import load_gray
from linescribe.inference import Recognizer
from linescribe.models import ARCHITECTURES, build_model
from linescribe.models.modelfile import TrainedModel, load_model_file
from linescribe.pretrained import resolve_model_path

TEST_LINES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines" / "hooker" / "test"


def lines(count: int) -> list[np.ndarray]:
    paths = sorted(TEST_LINES.glob("*.webp"))[:count]
    if paths:
        return [load_gray(path) for path in paths]
    from linescribe.data.synth import LineSynthesizer

    synthesizer, rng = LineSynthesizer(), np.random.default_rng(0)
    return [synthesizer.sample(rng)[0] for _ in range(count)]


def seed_like(model: TrainedModel) -> TrainedModel:
    spec = ARCHITECTURES["seed"]
    net = build_model("seed", model.alphabet.num_classes).eval()
    return TrainedModel(net, "seed", dict(spec.defaults), model.alphabet, spec.preprocessing)


def throughput(recognizer: Recognizer, images: list[np.ndarray], batch_size: int) -> float:
    recognizer.batch_size = batch_size
    recognizer.predict_many(images[: max(batch_size, 4)])  # warm-up
    start = time.perf_counter()
    recognizer.predict_many(images)
    return len(images) / (time.perf_counter() - start)


def latency_ms(recognizer: Recognizer, images: list[np.ndarray], count: int = 30) -> float:
    times = []
    for image in images[:count]:
        start = time.perf_counter()
        recognizer.predict(image)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model file or bundled name (default: the default model)")
    parser.add_argument("--lines", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model_file(resolve_model_path(args.model))
    images = lines(args.lines)
    print(f"{len(images)} lines of {TEST_LINES.name if TEST_LINES.is_dir() else 'rendered text'}; "
          f"{args.threads} torch threads; eager PyTorch {torch.__version__}")
    print("| model | arch | lines/s batch 1 | lines/s batch 32 | p50 one line (ms) | process peak RSS so far (MB) |")
    print("|---|---|---|---|---|---|")
    rows = {}
    for name, candidate in ((model.name or "model", model), ("seed (random weights)", seed_like(model))):
        recognizer = Recognizer(candidate)
        single, batched = throughput(recognizer, images, 1), throughput(recognizer, images, 32)
        p50 = latency_ms(recognizer, images)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows[candidate.arch] = batched
        print(f"| {name} | {candidate.arch} | {single:.1f} | {batched:.1f} | {p50:.1f} | {rss:.0f} |")
    if rows.get("seed"):
        print(f"batch-32 speed-up of {model.arch} over seed: {rows[model.arch] / rows['seed']:.1f}x")


if __name__ == "__main__":
    main()
