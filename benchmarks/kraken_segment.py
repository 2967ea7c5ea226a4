"""Segment page images with kraken's default baseline model, for benchmarks/segmentation.py.

    /tmp/krakenvenv/bin/python benchmarks/kraken_segment.py PAGE_IMAGE... -o kraken.json

Run it with a Python that has kraken installed (not linescribe's environment: kraken pins
lightning, click and safetensors to versions linescribe does not use). Writes, per image file
name, the line polygons and baselines kraken found and the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    from kraken import blla
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    found = {}
    for path in args.images:
        with Image.open(path) as image:
            start = time.perf_counter()
            segmentation = blla.segment(image.convert("RGB"))
            seconds = time.perf_counter() - start
        found[path.name] = {
            "seconds": seconds,
            "lines": [
                {
                    "polygon": [list(map(float, point)) for point in line.boundary or []],
                    "baseline": [list(map(float, point)) for point in line.baseline],
                }
                for line in segmentation.lines
            ],
        }
        print(f"{path.name}: {len(segmentation.lines)} lines, {seconds:.1f} s", flush=True)
    args.output.write_text(json.dumps(found), encoding="utf-8")


if __name__ == "__main__":
    main()
