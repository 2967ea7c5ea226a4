"""Milliseconds per line of each augmentation op on one core: the data loader must keep up.

Usage: python benchmarks/augment_speed.py [line images...]; without arguments it times
synthetic 96x1000 lines. Every op is forced on (probability 1) at its default strength.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import cv2
import numpy as np

from linescribe.data.augment import AugmentConfig, Augmenter
from linescribe.data.images import load_gray

ONLY_ONE_OP = {
    "stretch": dict(stretch=(1.0, 1.0)),
    "shear": dict(shear=0.0),
    "rotate": dict(rotate=0.0),
    "elastic": dict(elastic=0.0),
    "stroke": dict(stroke=0),
    "blur": dict(blur=0.0),
    "noise": dict(noise=0.0),
    "tone": dict(contrast=(1.0, 1.0), brightness=0.0),
}
"""The setting that turns each op off."""


def synthetic_line(rng: np.random.Generator, width: int = 1000) -> np.ndarray:
    """Beige paper with dark random strokes, the size of a typical line."""
    line = np.full((96, width), 205, np.uint8)
    for _ in range(width // 8):
        x, y = int(rng.integers(0, width)), int(rng.integers(25, 70))
        cv2.line(line, (x, y), (x + int(rng.integers(-15, 15)), y + int(rng.integers(-20, 20))), 70, 2)
    return line


def time_per_line(augmenter: Augmenter, lines: list[np.ndarray], repeats: int = 5) -> float:
    """Median over repeats of the mean milliseconds per line."""
    rng = np.random.default_rng(0)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for line in lines:
            augmenter(line, rng)
        runs.append((time.perf_counter() - start) * 1000 / len(lines))
    return float(np.median(runs))


def main(paths: list[str]) -> None:
    cv2.setNumThreads(1)
    lines = [load_gray(path) for path in paths] or [synthetic_line(np.random.default_rng(i)) for i in range(20)]
    widths = [line.shape[1] for line in lines]
    print(f"{len(lines)} lines, height {lines[0].shape[0]}, mean width {np.mean(widths):.0f} px, one thread")
    every_op = AugmentConfig(probability=1.0)
    off = {name: value for setting in ONLY_ONE_OP.values() for name, value in setting.items()}
    for op, setting in ONLY_ONE_OP.items():
        alone = replace(every_op, **{name: value for name, value in off.items() if name not in setting})
        print(f"{op:>8}: {time_per_line(Augmenter(alone), lines):6.2f} ms/line")
    print(f"{'all, p=1':>8}: {time_per_line(Augmenter(every_op), lines):6.2f} ms/line")
    print(f"{'default':>8}: {time_per_line(Augmenter(), lines):6.2f} ms/line (p={AugmentConfig().probability})")


if __name__ == "__main__":
    main(sys.argv[1:])
