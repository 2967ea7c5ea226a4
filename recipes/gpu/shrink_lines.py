"""Copy a folder of line images (+ .gt.txt) at a fixed height, as WebP, to move it cheaply.

    python recipes/gpu/shrink_lines.py SRC DST [--height 48] [--quality 60] [--fraction 1.0]

A GPU stage reads the real lines this way, since a device machine gets at most 64 MiB with the
repository (recipes/gpu/pack.sh). Lines are cut to the model's own 48 px (taller ones only);
``--fraction`` keeps a seeded random share of the lines, e.g. half of timeus, whose two registers
training draws at half weight anyway.
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

import cv2
from PIL import Image

from linescribe.data.images import IMAGE_SUFFIXES, load_gray


def shrink_folder(source: Path, target: Path, height: int, quality: int, fraction: float = 1.0, seed: int = 0) -> tuple[int, int]:
    """Writes the captioned images of ``source`` (a ``fraction`` of them) into ``target``;
    returns (lines, bytes) written."""
    target.mkdir(parents=True, exist_ok=True)
    images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.with_suffix(".gt.txt").exists())
    if fraction < 1.0:
        images = sorted(random.Random(seed).sample(images, round(len(images) * fraction)))
    written = 0
    for image in images:
        gray = load_gray(image)
        rows, columns = gray.shape
        if rows > height:
            gray = cv2.resize(gray, (max(1, round(columns * height / rows)), height), interpolation=cv2.INTER_AREA)
        output = target / f"{image.stem}.webp"
        Image.fromarray(gray).save(output, quality=quality, method=6)
        shutil.copyfile(image.with_suffix(".gt.txt"), target / f"{image.stem}.gt.txt")
        written += output.stat().st_size
    return len(images), written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--height", type=int, default=48)
    parser.add_argument("--quality", type=int, default=60)
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the lines kept (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 0.0 < args.fraction <= 1.0:
        parser.error(f"--fraction must be in (0, 1], not {args.fraction}")
    lines, written = shrink_folder(args.source, args.target, args.height, args.quality, args.fraction, args.seed)
    print(f"{args.target}: {lines} lines, {written / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
