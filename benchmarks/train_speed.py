"""Training speed and peak memory of each architecture on the same lines.

    python benchmarks/train_speed.py [--data ../shared/data/lines/hooker/train] [--steps 40]

Each architecture trains in its own process (so peak memory is its own) through the real
`linescribe train` path: image decoding, augmentation, bucketing, Lightning. Lines/s counts
training batches only (validation excluded); the first batches are warm-up and not timed.
Run it on a quiet machine: anything else running on the 2 cores distorts the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines" / "hooker" / "train"


def measure(arch: str, data: str, steps: int, batch_size: int, threads: int) -> dict:
    """Runs in the child process: train for a few steps, report lines/s and peak RSS."""
    import torch

    from linescribe.models import ARCHITECTURES, build_model
    from linescribe.training.config import TrainConfig
    from linescribe.training.run import train

    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(
            train=[data],
            val_fraction=0.02,
            output=Path(tmp),
            arch=arch,
            batch_size=batch_size,
            max_steps=steps,
            val_every=10_000,
            workers=1,
            threads=threads,
            progress=False,
        )
        result = train(config)
    parameters = sum(p.numel() for p in build_model(arch, 100).parameters())
    preprocessing = ARCHITECTURES[arch].preprocessing
    return {
        "arch": arch,
        "parameters": parameters,
        "input": f"{preprocessing.height} x {preprocessing.width or 'line width'}",
        "lines_per_s": result.lines_per_second,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="dataset spec to train on")
    parser.add_argument("--archs", default="crnn,seed")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.data, args.steps, args.batch_size, args.threads)))
        return
    rows = []
    for arch in args.archs.split(","):
        command = [sys.executable, __file__, "--child", arch, "--data", args.data, "--steps", str(args.steps),
                   "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    print(f"data: {args.data}; batch {args.batch_size}; {args.steps} steps; {args.threads} torch threads; 1 loader worker")
    print("| arch | parameters | input (h x w) | training lines/s | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['arch']} | {row['parameters'] / 1e6:.1f} M | {row['input']} | {row['lines_per_s']:.1f} | {row['peak_rss_mb']:.0f} |")
    if len(rows) == 2 and rows[1]["lines_per_s"]:
        print(f"speed-up {rows[0]['arch']} over {rows[1]['arch']}: {rows[0]['lines_per_s'] / rows[1]['lines_per_s']:.1f}x")


if __name__ == "__main__":
    main()
