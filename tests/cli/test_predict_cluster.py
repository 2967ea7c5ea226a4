"""``linescribe predict --cluster``: reading on a Dask cluster that each test starts on 127.0.0.1
(a scheduler and 2 single-thread workers, as separate processes) and stops.

A worker is frozen with SIGSTOP, so that it holds a chunk of the run (or the model every chunk
needs) that it will never finish: killing it then is a worker's death mid-run, at a moment the
test chooses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from generated import line_texts, printed_page, render_line
from linescribe.cli import main

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402 (installed with distributed)
pytestmark = pytest.mark.slow  # servers, processes and minutes-long checks: left out of `make test-fast`

LINES = 40
CHUNK = 4  # --batch-size 1: chunks of 4 lines, 10 of them


@dataclass
class LocalCluster:
    folder: Path
    scheduler_file: Path
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    started: list[subprocess.Popen] = field(default_factory=list)

    def predict(self, *arguments: str) -> subprocess.Popen:
        """``linescribe predict --cluster`` in its own process (so that a test can kill it),
        run in the test's folder: relative paths there are not the workers' (they run elsewhere)."""
        command = [sys.executable, "-m", "linescribe", "predict", "--cluster", str(self.scheduler_file), *arguments]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=self.folder)
        self.started.append(process)
        return process

    def holds_work(self, number: int) -> bool:
        """Whether the scheduler has given worker ``number`` a task it has not finished."""
        with distributed.Client(scheduler_file=str(self.scheduler_file), timeout=30) as client:
            workers = client.scheduler_info()["workers"]
            address = next(address for address, worker in workers.items() if worker["name"] == f"worker-{number}")
            return bool(client.processing().get(address))


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


@pytest.fixture
def cluster(tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": _env()}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(scheduler_file)], **quiet)
    workers = []
    running = LocalCluster(tmp_path, scheduler_file, scheduler, workers)
    try:
        _wait_for(scheduler_file.is_file, "the scheduler")
        for number in range(2):
            (tmp_path / f"worker-{number}").mkdir()
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                 "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"worker-{number}",
                 "--local-directory", str(tmp_path / f"worker-{number}")], cwd=tmp_path / f"worker-{number}", **quiet))
        with distributed.Client(scheduler_file=str(scheduler_file), timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield running
    finally:
        everything = [*running.started, *workers, scheduler]
        for process in everything:
            process.kill()  # SIGKILL also ends a stopped process
        for process in everything:
            process.wait(timeout=30)
        assert all(process.poll() is not None for process in everything)


def _wait_for(condition, what: str, timeout: float = 60, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(poll)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _wait_until_stalled(results: Path, process: subprocess.Popen, allow_none: bool = False) -> int:
    """The number of records once they stop growing while the run goes on (the frozen worker
    holds the rest; with ``allow_none``, maybe all of it: the model every chunk needs)."""
    count, since = -1, time.monotonic()
    deadline = since + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        now = len(_records(results))
        if now != count:
            count, since = now, time.monotonic()
        elif (count > 0 or allow_none) and time.monotonic() - since > 3:
            return count
        time.sleep(0.1)
    raise AssertionError("the run never stalled")


@pytest.fixture
def lines(tmp_path) -> tuple[list[str], dict[str, dict]]:
    """Line images listed in a manifest, given by its path relative to the test's folder (where
    `cluster.predict` runs), and what `predict` on one machine reads in them, by that path."""
    folder = tmp_path / "lines"
    folder.mkdir()
    for number, text in enumerate(line_texts(LINES, seed=11)):
        render_line(text, seed=number).save(folder / f"line{number:02}.png")
    (tmp_path / "lines.tsv").write_text("".join(f"lines/line{n:02}.png\n" for n in range(LINES)), encoding="utf-8")
    reference = tmp_path / "reference.jsonl"
    done = CliRunner().invoke(main, ["predict", str(tmp_path / "lines.tsv"), "-o", str(reference), "--threads", "1"])
    assert done.exit_code == 0, done.output
    return ["lines.tsv"], {os.path.relpath(record["file"], tmp_path): record for record in _records(reference)}


def _assert_same_readings(results: Path, reference: dict[str, dict]) -> None:
    records = _records(results)
    assert sorted(record["file"] for record in records) == sorted(reference)  # each image once, none lost
    for record in records:
        expected = reference[record["file"]]
        assert record["error"] is None
        assert (record["text"], record["char_positions"]) == (expected["text"], expected["char_positions"])
        assert record["confidence"] == pytest.approx(expected["confidence"], abs=2e-4)


def test_a_cluster_reads_as_one_machine_does_loading_the_model_once_per_worker(cluster, lines, tmp_path):
    inputs, reference = lines
    results = tmp_path / "cluster.jsonl"
    run = cluster.predict(*inputs, "-o", str(results), "--batch-size", "1")
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert f"{LINES} images, {LINES} read now, 0 read before, 0 unreadable" in stderr
    _assert_same_readings(results, reference)
    with distributed.Client(scheduler_file=str(cluster.scheduler_file), timeout=30) as client:
        loads = [event for _, event in client.get_events("linescribe-model")]
    assert sorted(event["worker"] for event in loads) == sorted(client_worker for client_worker in _worker_addresses(cluster))
    assert {event["backend"] for event in loads} == {"onnx"}

    pages = tmp_path / "pages"
    pages.mkdir()
    for seed in range(2):
        Image.fromarray(printed_page(seed=seed).image).save(pages / f"page{seed}.png")
    local, remote = tmp_path / "local-pages", tmp_path / "cluster-pages"
    assert CliRunner().invoke(main, ["predict", "--layout", "page", str(pages), "--output-dir", str(local),
                                     "--formats", "text,page"]).exit_code == 0
    run = cluster.predict("--layout", "page", "pages", "--output-dir", str(remote), "--formats", "text,page,json")
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert sorted(p.name for p in remote.iterdir()) == [
        "page0.json", "page0.page.xml", "page0.txt", "page1.json", "page1.page.xml", "page1.txt"
    ]
    for name in ("page0.txt", "page1.txt"):
        assert (remote / name).read_text(encoding="utf-8") == (local / name).read_text(encoding="utf-8")
    # named as given, as on one machine (the workers open it by absolute path)
    assert json.loads((remote / "page0.json").read_text(encoding="utf-8"))["image"] == os.path.join("pages", "page0.png")


def _worker_addresses(cluster: LocalCluster) -> list[str]:
    with distributed.Client(scheduler_file=str(cluster.scheduler_file), timeout=30) as client:
        return list(client.scheduler_info()["workers"])


def test_a_worker_killed_mid_run_loses_nothing(cluster, lines, tmp_path):
    inputs, reference = lines
    frozen = cluster.workers[1]
    frozen.send_signal(signal.SIGSTOP)
    results = tmp_path / "cluster.jsonl"
    run = cluster.predict(*inputs, "-o", str(results), "--batch-size", "1")
    _wait_for(lambda: cluster.holds_work(1), "a task for the frozen worker")
    assert _wait_until_stalled(results, run, allow_none=True) < LINES  # the frozen worker holds part of the run
    assert cluster.holds_work(1)
    frozen.kill()
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert f"{LINES} read now, 0 read before, 0 unreadable" in stderr
    _assert_same_readings(results, reference)


def test_a_crashed_run_resumes_reading_only_the_missing_images(cluster, lines, tmp_path):
    inputs, reference = lines
    results = tmp_path / "cluster.jsonl"
    run = cluster.predict(*inputs, "-o", str(results), "--batch-size", "1")
    # frozen once a record shows that the other worker has the model: it still gets chunks
    _wait_for(lambda: results.exists() and results.stat().st_size > 0, "a first record", poll=0.002)
    frozen = cluster.workers[1]
    frozen.send_signal(signal.SIGSTOP)
    written = _wait_until_stalled(results, run)
    assert cluster.holds_work(1)
    run.kill()  # the client dies: what it wrote stays
    run.wait(timeout=30)
    frozen.kill()
    assert 0 < len(_records(results)) == written < LINES
    rerun = cluster.predict(*inputs, "-o", str(results), "--batch-size", "1")
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert f"{LINES} images, {LINES - written} read now, {written} read before, 0 unreadable" in stderr
    _assert_same_readings(results, reference)


def test_cluster_needs_a_resumable_output_and_a_reachable_scheduler(tmp_path):
    render_line("a line").save(tmp_path / "a.png")
    plain = CliRunner().invoke(main, ["predict", "--cluster", "tcp://127.0.0.1:9", str(tmp_path / "a.png")])
    assert plain.exit_code == 2 and "give -o FILE.jsonl or --output-dir" in plain.output
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        unreachable = CliRunner().invoke(main, ["predict", "--cluster", "tcp://127.0.0.1:9", str(tmp_path / "a.png"),
                                                "-o", str(tmp_path / "x.jsonl")])
    assert unreachable.exit_code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in unreachable.output
