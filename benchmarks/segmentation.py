"""Page segmentation: line detection and end-to-end page CER on real and generated pages.

    python benchmarks/segmentation.py [--pages 20] [--seed 0] [--save-pages DIR] [--kraken FILE]

Three page sets:
  sample     the PAGE/ALTO pages in ../shared/data/pages-sample (their XML gives the true lines);
  synthetic  pages of lines rendered by LineSynthesizer (one font and size per page);
  real-lines pages stacked from the real test lines in ../shared/data/lines/*/test (one source page
             per generated page, so one hand).
Generated pages have tight spacing (touching ascenders and descenders), skew up to 5 degrees,
mild perspective, a lighting gradient, sensor noise, ruled paper on half of them and two columns
on every fourth; everything is seeded.

Detection: found and true lines are matched one to one, greedily by decreasing IoU, and a match
needs IoU >= 0.5. IoU is the mask IoU of the rasterised polygons (not of their boxes).
Page CER: the page's text in reading order (lines joined by newlines) against the true lines'
texts in their order, with the bundled default model and greedy decoding; "CER true lines" reads
the true polygons instead, to separate segmentation errors from recognition errors.

Kraken: `--save-pages DIR` writes every page image there; `python benchmarks/kraken_segment.py
DIR/*.png ../shared/data/pages-sample/*/*.jpg -o kraken.json`, run with a Python that has kraken
installed, segments them with kraken's bundled baseline model; `--kraken kraken.json` then scores
those polygons (in kraken's reading order, cropped without deskewing, read by the same model) in
extra rows.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

import linescribe
from linescribe.data.images import crop_polygon, load_gray
from linescribe.data.readers import parse_spec, read_entries
from linescribe.data.sample import Point, Sample
from linescribe.data.synth import LineSynthesizer, SynthConfig
from linescribe.data.synth.page import PageConfig, compose_page
from linescribe.data.synth.render import render_line
from linescribe.layout import read_page
from linescribe.layout.metrics import DetectionScore, match_lines
from linescribe.metrics import ErrorRates

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SAMPLE_PAGES = SHARED_DATA / "pages-sample"
TEST_LINES = SHARED_DATA / "lines"


@dataclass
class Page:
    name: str
    image: np.ndarray
    polygons: list[tuple[Point, ...]]
    texts: list[str]


def sample_pages() -> Iterator[Page]:
    """The sample pages with their true lines, in the XML's order."""
    for folder in sorted(path for path in SAMPLE_PAGES.iterdir() if path.is_dir()):
        pages: dict[Path, list[Sample]] = {}
        for entry in read_entries(parse_spec(str(folder))):
            if isinstance(entry, Sample):
                pages.setdefault(entry.path, []).append(entry)
        for path, lines in sorted(pages.items()):
            yield Page(path.name, load_gray(path), [line.polygon for line in lines], [line.text for line in lines])


def synthetic_pages(count: int, seed: int) -> Iterator[Page]:
    """Pages of rendered lines, one font and letter size per page, as one writer's."""
    plain = SynthConfig(
        ruled_probability=0.0, neighbour_probability=0.0, underline_probability=0.0, jpeg_probability=0.0
    )
    synthesizer = LineSynthesizer(config=plain)
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        face = synthesizer.fonts[int(rng.integers(len(synthesizer.fonts)))]
        x_height = rng.uniform(0.15, 0.22)
        config = replace(plain, x_height=(x_height, x_height * 1.08))
        lines = []
        while len(lines) < int(rng.integers(6, 16)):
            text = synthesizer.sample_text(rng)
            if face.covers(text):
                lines.append((render_line(text, face, config, rng), text))
        page = compose_page(lines, rng, PageConfig(columns=2 if index % 4 == 3 else 1))
        yield Page(f"synthetic-{index:02d}.png", page.image, page.polygons, page.texts)


def real_line_pages(count: int, seed: int) -> Iterator[Page]:
    """Pages stacked from the real test lines of one source page each, datasets in turn."""
    sources: list[list[tuple[Path, str]]] = []
    for manifest in sorted(TEST_LINES.glob("*/manifest.tsv")):
        by_page: dict[str, list[tuple[Path, str]]] = {}
        for row in manifest.read_text(encoding="utf-8").splitlines()[1:]:
            split, file, page, *_, text = row.split("\t")
            if split == "test":
                by_page.setdefault(page, []).append((manifest.parent / file, text))
        sources.append([lines for _, lines in sorted(by_page.items()) if len(lines) >= 4])
    for index in range(count if sources else 0):
        rng = np.random.default_rng([seed, 1000 + index])
        pages = sources[index % len(sources)]
        chosen = pages[int(rng.integers(len(pages)))]
        start = int(rng.integers(0, max(len(chosen) - 12, 0) + 1))
        lines = [(load_gray(path), text) for path, text in chosen[start : start + 12]]
        page = compose_page(lines, rng, PageConfig(columns=2 if index % 4 == 3 else 1))
        yield Page(f"real-lines-{index:02d}.png", page.image, page.polygons, page.texts)


@dataclass
class Tally:
    detection: DetectionScore = field(default_factory=lambda: DetectionScore(0, 0, 0))
    page_rates: ErrorRates = field(default_factory=ErrorRates)
    true_line_rates: ErrorRates = field(default_factory=ErrorRates)
    seconds: float = 0.0
    pages: int = 0


def evaluate(pages: list[Page], recognizer, kraken: dict | None) -> tuple[Tally, Tally | None]:
    ours, theirs = Tally(), Tally() if kraken is not None else None
    for page in pages:
        size = (page.image.shape[1], page.image.shape[0])
        start = time.perf_counter()
        result = read_page(recognizer, page.image)
        ours.seconds += time.perf_counter() - start
        ours.pages += 1
        score, _ = match_lines([line.polygon for line in result.lines], page.polygons, size)
        ours.detection += score
        ours.page_rates.add("\n".join(page.texts), result.text)
        truths = recognizer.predict([crop_polygon(page.image, polygon) for polygon in page.polygons])
        ours.true_line_rates.add("\n".join(page.texts), "\n".join(prediction.text for prediction in truths))
        if theirs is not None and page.name in kraken:
            found = [
                tuple(map(tuple, line["polygon"])) for line in kraken[page.name]["lines"] if len(line["polygon"]) >= 3
            ]
            theirs.pages += 1
            theirs.seconds += kraken[page.name]["seconds"]
            score, _ = match_lines(found, page.polygons, size)
            theirs.detection += score
            crops = [crop_polygon(page.image, polygon) for polygon in found]
            texts = [prediction.text for prediction in recognizer.predict(crops)] if crops else []
            theirs.page_rates.add("\n".join(page.texts), "\n".join(texts))
    return ours, theirs


def row(name: str, method: str, tally: Tally, true_lines: bool) -> str:
    score = tally.detection
    cer_true = f"{100 * tally.true_line_rates.cer:.1f} %" if true_lines else "-"
    return (
        f"| {name} | {method} | {tally.pages} | {score.truth} | {score.found} | {score.precision:.3f} | "
        f"{score.recall:.3f} | {score.f1:.3f} | {100 * tally.page_rates.cer:.1f} % | {cer_true} | "
        f"{tally.seconds / max(tally.pages, 1):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=20, help="generated pages per generated set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-pages", type=Path, help="write every page image here (for kraken_segment.py)")
    parser.add_argument("--kraken", type=Path, help="kraken_segment.py's JSON, to score kraken's polygons too")
    args = parser.parse_args()
    kraken = None
    if args.kraken:
        kraken = {Path(path).name: found for path, found in json.loads(args.kraken.read_text(encoding="utf-8")).items()}
    recognizer = linescribe.load_model()
    sets = {
        "sample pages (PAGE/ALTO)": list(sample_pages()) if SAMPLE_PAGES.is_dir() else [],
        "synthetic lines": list(synthetic_pages(args.pages, args.seed)),
        "real test lines": list(real_line_pages(args.pages, args.seed)) if TEST_LINES.is_dir() else [],
    }
    if args.save_pages:
        args.save_pages.mkdir(parents=True, exist_ok=True)
        for page in (page for pages in sets.values() for page in pages):
            cv2.imwrite(str(args.save_pages / Path(page.name).with_suffix(".png")), page.image)
    print(
        "| pages | segmenter | n | true lines | found | precision | recall | F1 | page CER | CER true lines | s/page |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, pages in sets.items():
        if not pages:
            print(f"| {name} | (data missing) |")
            continue
        ours, theirs = evaluate(pages, recognizer, kraken)
        print(row(name, "linescribe (classical)", ours, True))
        if theirs is not None and theirs.pages:
            print(row(name, "kraken blla (default)", theirs, False))


if __name__ == "__main__":
    main()
