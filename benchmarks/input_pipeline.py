"""Is the training input pipeline the bottleneck? Training lines/s with real decoding and
augmentation in the loader, against the same training on lines pre-loaded as tensors.

    python benchmarks/input_pipeline.py [--data ../shared/data/lines/hooker/train] [--lines 256] [--steps 60]

Both runs go through the real `linescribe train` path (Lightning, bucketing, 1 loader process,
2 torch threads, default crnn). In the pre-loaded run every line is decoded, augmented and
preprocessed once before training starts, and the training process hands out the ready arrays
itself (no loader process: forking after the pre-loading can deadlock OpenCV's threads). The
pipeline keeps up when the first figure is within 10 % of the second. Run it on a quiet machine.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--lines", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--child", choices=["pipeline", "preloaded"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.data, args.lines, args.steps, args.child == "preloaded")))
        return
    speeds = {}
    for mode in ("pipeline", "preloaded"):
        command = [sys.executable, __file__, "--child", mode, "--data", args.data, "--lines", str(args.lines), "--steps", str(args.steps)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        speeds[mode] = json.loads(output.strip().splitlines()[-1])
    print(f"data: {args.lines} lines of {args.data}; batch 16; {args.steps} steps; 2 torch threads; 1 loader process")
    print("| input | training lines/s |\n|---|---|")
    print(f"| decoded + augmented in the loader | {speeds['pipeline']:.1f} |")
    print(f"| pre-loaded tensors | {speeds['preloaded']:.1f} |")
    print(f"pipeline / pre-loaded: {speeds['pipeline'] / speeds['preloaded']:.1%}")


if __name__ == "__main__":
    main()
