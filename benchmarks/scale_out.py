"""Reading throughput on one machine (`predict --jobs`) and on a Dask cluster (`predict --cluster`).

    python benchmarks/scale_out.py [--lines 800] [--workers 1,2] [--model default]

Every row reads the same real validation lines (from ../shared/data/lines, listed in a manifest)
into a fresh .jsonl file with the same `linescribe predict` command in a new process, so each
time counts what a user waits for: starting Python, loading the model, reading and writing the
records (and for the cluster, connecting and sending the model to the workers). The cluster is
a Dask LocalCluster on 127.0.0.1, started before the clock runs, with single-thread worker
processes; `--jobs N` starts N processes on its own, each with 1 thread (`--threads 1`) as the workers. Run it on a quiet machine: anything else on
the cores distorts the times (load is printed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distributed import LocalCluster

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lines"
SETS = ("hooker", "copiste", "poilus", "mss19", "peraire", "timeus")


def manifest(folder: Path, count: int) -> Path:
    """A manifest of ``count`` validation lines, taken in turn from each set."""
    per_set = [sorted((DATA / name / "val").glob("*.webp")) for name in SETS]
    chosen: list[Path] = []
    while len(chosen) < count and any(per_set):
        for images in per_set:
            if images and len(chosen) < count:
                chosen.append(images.pop(0))
    listing = folder / "lines.tsv"
    listing.write_text("".join(f"{path.resolve()}\n" for path in chosen), encoding="utf-8")
    return listing


def timed_predict(arguments: list[str], results: Path) -> float:
    """Seconds for one `linescribe predict` run, which must read every line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "linescribe", "predict", *arguments, "-o", str(results)],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or "0 unreadable" not in done.stderr:
        raise SystemExit(f"predict {' '.join(arguments)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=800)
    parser.add_argument("--workers", default="1,2", help="Worker counts (processes on this machine, and cluster workers).")
    parser.add_argument("--model", default="default")
    options = parser.parse_args()
    counts = [int(n) for n in options.workers.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        lines = manifest(folder, options.lines)
        total = len(lines.read_text().splitlines())
        rows = []
        for count in counts:
            seconds = timed_predict([options.model, str(lines), "--jobs", str(count), "--threads", "1"], folder / f"jobs{count}.jsonl")
            rows.append((f"predict --jobs {count}", count, seconds))
        for count in counts:
            with LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster:
                seconds = timed_predict([options.model, str(lines), "--cluster", cluster.scheduler_address],
                                        folder / f"cluster{count}.jsonl")
            rows.append((f"predict --cluster (LocalCluster, {count} x 1 thread)", count, seconds))
    print(f"\n{total} lines, model {options.model}, onnxruntime, whole command timed\n")
    print("| how | worker processes | seconds | lines/s | lines/s per worker |")
    print("|---|---|---|---|---|")
    for how, count, seconds in rows:
        print(f"| {how} | {count} | {seconds:.1f} | {total / seconds:.0f} | {total / seconds / count:.0f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
