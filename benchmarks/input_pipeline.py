"""Is the training input pipeline the bottleneck? Training lines/s with real decoding and
augmentation in the loader, against the same training on lines pre-loaded as tensors.

    python benchmarks/input_pipeline.py [--data ../shared/data/lines/hooker/train] [--lines 256] [--steps 60]

Both runs go through the real `linescribe train` path (Lightning, bucketing, 1 loader process,
2 torch threads, default crnn). In the pre-loaded run every line is decoded, augmented and
preprocessed once before training starts, and the training process hands out the ready arrays
itself (no loader process: forking after the pre-loading can deadlock OpenCV's threads). The
pipeline keeps up when the first figure is within 10 % of the second. The last rows time the
loader alone, with no model: the lines/s it could feed a faster device (a GPU). Run it on a
quiet machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines" / "hooker" / "train"


def measure(data: str, lines: int, steps: int, preloaded: bool) -> float:
    """Runs in the child process: training lines/s, loading included, validation excluded."""
    from linescribe.training import datamodule
    from linescribe.training.config import TrainConfig
    from linescribe.training.run import train

    if preloaded:
        dataset_class = datamodule.LineDataset
        load_item, original_init = dataset_class.__getitem__, dataset_class.__init__

        def init_and_preload(self, *args, **kwargs) -> None:
            original_init(self, *args, **kwargs)
            self.ready = [load_item(self, index) for index in range(len(self))]

        dataset_class.__init__ = init_and_preload
        dataset_class.__getitem__ = lambda self, index: self.ready[index]
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "lines"
        subset.mkdir()
        for image in sorted(Path(data).glob("*.webp"))[:lines]:
            (subset / image.name).symlink_to(image.resolve())
            (subset / f"{image.stem}.gt.txt").symlink_to(image.with_suffix(".gt.txt").resolve())
        config = TrainConfig(
            train=[str(subset)], val_fraction=0.05, output=Path(tmp) / "run", batch_size=16, max_steps=steps,
            max_epochs=10_000, val_every=10_000, workers=0 if preloaded else 1, threads=2, progress=False,
        )
        return train(config).lines_per_second


def loader_alone(data: str, lines: int, workers: int) -> float:
    """Lines/s the training DataLoader delivers (decoding, augmentation, preprocessing, bucketing,
    collating) with no model, over the second of two epochs (the first starts the workers)."""
    import time

    from linescribe.alphabet import Alphabet
    from linescribe.data.augment import Augmenter
    from linescribe.data.dataset import load_datasets
    from linescribe.models import build_model, get_architecture
    from linescribe.training.datamodule import LineDataModule, LineDataset
    from linescribe.training.run import prepare_lines

    (dataset,) = load_datasets([data])
    dataset.samples = dataset.samples[:lines]
    alphabet = Alphabet.from_texts(sample.text for sample in dataset.samples)
    preprocessing = get_architecture("crnn").preprocessing
    stride = build_model("crnn", alphabet.num_classes, {}).horizontal_stride
    prepared = prepare_lines([dataset], alphabet, preprocessing, stride, strict=False)
    train_set = LineDataset(prepared.samples, alphabet, preprocessing, Augmenter())
    loader = LineDataModule(train_set, train_set, prepared.widths, prepared.widths, 16, workers, seed=0).train_dataloader()
    for _ in range(2):
        started, count = time.perf_counter(), 0
        for _, widths, *_ in loader:
            count += len(widths)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--lines", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--child", choices=["pipeline", "preloaded", "loader0", "loader2"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child.startswith("loader"):
            print(json.dumps(loader_alone(args.data, args.lines, workers=int(args.child[-1]))))
        else:
            print(json.dumps(measure(args.data, args.lines, args.steps, args.child == "preloaded")))
        return
    speeds = {}
    for mode in ("pipeline", "preloaded", "loader0", "loader2"):
        command = [sys.executable, __file__, "--child", mode, "--data", args.data, "--lines", str(args.lines), "--steps", str(args.steps)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        speeds[mode] = json.loads(output.strip().splitlines()[-1])
    print(f"data: {args.lines} lines of {args.data}; batch 16; {args.steps} steps; 2 torch threads; 1 loader process")
    print("| input | training lines/s |\n|---|---|")
    print(f"| decoded + augmented in the loader | {speeds['pipeline']:.1f} |")
    print(f"| pre-loaded tensors | {speeds['preloaded']:.1f} |")
    print(f"| the loader alone, no model, in the training process | {speeds['loader0']:.1f} |")
    print(f"| the loader alone, no model, 2 loader processes | {speeds['loader2']:.1f} |")
    print(f"pipeline / pre-loaded: {speeds['pipeline'] / speeds['preloaded']:.1%}")


if __name__ == "__main__":
    main()
