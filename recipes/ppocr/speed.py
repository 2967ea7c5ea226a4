"""Inference and training speed of a ppocr model beside another model (default: the bundled one),
on one thread, as docs/model-study.md reports them.

    .venv/bin/python recipes/ppocr/speed.py runs/ppocr/init.onnx [--baseline default] \\
        [--lines ../shared/data/lines/hooker/val] [--steps 5]

- inference: lines/s of ``Recognizer.predict_many`` at batch 32 over every line of --lines
  (validation lines; never a test split), images decoded to grayscale before timing, so the
  figure counts preprocessing, the network and greedy decoding; best of 3 runs after a warm-up.
  A ``.onnx`` file runs on onnxruntime, a ``.safetensors`` file on PyTorch.
- training: seconds per step (forward, CTC loss, backward, AdamW) on a batch of 16 random lines
  48 px high and 760-800 px wide with 60-character targets, in channels-last as training runs
  it; median of --steps steps after one warm-up step. The architecture comes from the model file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from linescribe.data.batching import pad_batch  # noqa: E402
from linescribe.data.dataset import load_dataset  # noqa: E402
from linescribe.data.images import load_sample_image  # noqa: E402
from linescribe.data.preprocess import Preprocessing  # noqa: E402
from linescribe.inference import load_recognizer  # noqa: E402
from linescribe.modelfile import read_model_document, resolve_model_path  # noqa: E402
from linescribe.modelfile.onnx_runtime import is_onnx_file, load_onnx_model  # noqa: E402
from linescribe.models import build_model  # noqa: E402


def inference_speed(model: str, images: list[np.ndarray]) -> float:
    backend = "onnx" if is_onnx_file(resolve_model_path(model)) else "torch"
    recognizer = load_recognizer(model, backend, threads=1, batch_size=32)
    recognizer.predict_many(images[:64])  # warm-up: kernels, caches, thread pools
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        recognizer.predict_many(images)
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def training_step_seconds(model: str, steps: int) -> float:
    path = resolve_model_path(model)
    document = load_onnx_model(path, threads=1).describe() if is_onnx_file(path) else read_model_document(path)
    classes = len(document["alphabet"]) + 1
    preprocessing = Preprocessing.from_dict(document["preprocess"])
    net = build_model(document["arch"], classes, document["hparams"], preprocessing).train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    images, widths = pad_batch([rng.random((preprocessing.height, int(w)), dtype=np.float32) for w in rng.integers(760, 801, 16)])
    images = images.contiguous(memory_format=torch.channels_last)
    targets = torch.from_numpy(rng.integers(1, classes, 16 * 60))
    target_lengths = torch.full((16,), 60)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        log_probs, lengths = net(images, widths)
        loss = F.ctc_loss(log_probs, targets, lengths, target_lengths, zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--baseline", default="default")
    parser.add_argument("--lines", default="../shared/data/lines/hooker/val")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if "/test" in args.lines.replace("\\", "/"):
        raise SystemExit("speed is measured on validation lines, never on a test split")
    images = [load_sample_image(sample) for sample in load_dataset(args.lines).samples]
    for model in (args.model, args.baseline):
        print(
            f"{Path(model).name}: {inference_speed(model, images):.1f} lines/s at batch 32 ({len(images)} lines); "
            f"training step (16 x 48x~800) {training_step_seconds(model, args.steps):.2f} s"
        )


if __name__ == "__main__":
    main()
