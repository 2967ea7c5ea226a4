"""The adaptation curve: CER on a hand's other lines after `linescribe adapt` on N of its lines.

    python benchmarks/adapt.py [--hand mss20-tessier --hand poilus-unseen] [--n 0,25,50,100,200]
    git show d380b40:src/linescribe/pretrained/default.safetensors > runs/v2.safetensors
    python benchmarks/adapt.py --model runs/v2.safetensors --hand peraire     # one hand, up to 200 lines

For each hand (lines the default model never trained on), a seeded random part of its lines is
set aside as "other lines" and never used for adapting; the N adaptation lines are the first N of
the rest in a seeded order (so the 25 lines are among the 50, the 50 among the 100). Each N runs
`adapt` with its default settings, which holds out its own share of the N lines to stop training
and to judge the result: nothing about the other lines reaches it. N = 0 is the starting model.
Wall time is that of the whole `adapt` call (reading the lines, training, both held-out readings).
Run it on a quiet machine: anything else on the cores distorts the times (load is printed).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from linescribe.cli.train import quiet_lightning
from linescribe.data.dataset import load_datasets
from linescribe.data.sample import Sample
from linescribe.evaluation import evaluate
from linescribe.inference import Recognizer
from linescribe.modelfile.weights import load_model_file
from linescribe.training.adapt import adapt
from linescribe.training.config import AdaptConfig
from linescribe.training.run import init_model_path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines"


@dataclass(frozen=True)
class Hand:
    datasets: tuple[str, ...]
    other_lines: int
    """Lines set aside to measure on; the rest can be adapted on."""
    about: str


HANDS = {
    "mss20-tessier": Hand(("mss20/test",), 48, "one writer, a 1921 letter (CREMMA-MSS-20 test: unseen)"),
    "mss20-badinter": Hand(("mss20/val",), 54, "one writer, 1981 drafts in pale ink (mss20 val: the default "
                                               "model's checkpoint was chosen on it, never trained on it)"),
    "peraire": Hand(("peraire/test", "peraire/val"), 100, "one writer, 1928-1990 notebooks (CREMMA peraire test and "
                                                         "val); unseen only by a model trained without peraire, "
                                                         "e.g. default model v2: --model runs/v2.safetensors"),
    "poilus-unseen": Hand(("poilus/test", "poilus/val"), 130, "17 soldiers' wills, one writer each, none in training "
                                                              "(val: used only to choose the checkpoint)"),
}


def hand_lines(hand: Hand, rules: list[str], seed: int) -> tuple[list[Sample], list[Sample]]:
    """(other lines, adaptation pool) of a hand, in a seeded order."""
    samples = [s for dataset in load_datasets([str(DATA / name) for name in hand.datasets], text_rules=rules) for s in dataset.samples]
    samples.sort(key=lambda sample: sample.id)
    random.Random(seed).shuffle(samples)
    return samples[: hand.other_lines], samples[hand.other_lines :]


def write_manifest(path: Path, samples: list[Sample]) -> Path:
    path.write_text("path\ttext\tid\n" + "".join(f"{s.path}\t{s.text}\t{s.id}\n" for s in samples), encoding="utf-8")
    return path


def cer(model_path: Path, samples: list[Sample]) -> float:
    return evaluate(Recognizer(load_model_file(model_path)), samples).rates.cer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="model to adapt (bundled name, file or run folder)")
    parser.add_argument("--hand", action="append", choices=sorted(HANDS), help="hands to measure (default: all)")
    parser.add_argument("--n", default="0,25,50,100,200", help="adaptation line counts, comma-separated")
    parser.add_argument("--seed", type=int, default=0, help="which lines are other lines / adaptation lines")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--workers", type=int, default=AdaptConfig.workers, help="data loading processes")
    args = parser.parse_args()
    quiet_lightning()
    if args.threads:
        torch.set_num_threads(args.threads)
    counts = [int(n) for n in args.n.split(",")]
    model_path = init_model_path(args.model)
    rules = load_model_file(model_path).training.get("config", {}).get("text_rules", [])
    print(f"model {model_path}; {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    print(f"{'hand':<15} {'N':>4} {'trained/held':>12} {'steps':>6} {'wall s':>7} {'held-out CER':>17} {'other lines CER':>16} {'change':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.hand or sorted(HANDS):
            hand = HANDS[name]
            others, pool = hand_lines(hand, rules, args.seed)
            before = cer(model_path, others)
            for n in counts:
                if n > len(pool):
                    print(f"{name:<15} {n:>4}  (only {len(pool)} lines to adapt on beside the {len(others)} other lines)")
                    continue
                if n == 0:
                    print(f"{name:<15} {0:>4} {'-':>12} {'-':>6} {'-':>7} {'-':>17} {before:>15.2%} {'':>7}", flush=True)
                    continue
                run = Path(tmp) / f"{name}-{n}"
                run.mkdir()
                start = time.perf_counter()
                result = adapt(
                    AdaptConfig(
                        data=[str(write_manifest(run / "lines.tsv", pool[:n]))], output=run / "run", model=str(model_path),
                        threads=args.threads, workers=args.workers, progress=False,
                    )
                )
                wall = time.perf_counter() - start
                after = cer(result.model_path, others)
                held = f"{result.cer_before:.1%} -> {result.cer_adapted:.1%}{'' if result.adapted else ' (kept original)'}"
                print(
                    f"{name:<15} {n:>4} {f'{result.train_lines}/{result.held_out_lines}':>12} {result.steps:>6} {wall:>7.0f} "
                    f"{held:>17} {after:>15.2%} {(after - before) / before:>+7.0%}",
                    flush=True,
                )
    print(f"load average {os.getloadavg()[0]:.2f} at the end", file=sys.stderr)


if __name__ == "__main__":
    main()
