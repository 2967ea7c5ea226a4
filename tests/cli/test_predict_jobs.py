"""``linescribe predict`` over many files: resumable outputs, worker processes, bad files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from linescribe.cli import main
from linescribe.modelfile.export import export_onnx

from generated import line_texts, random_model, write_gt_folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """An ONNX model (worker processes then start without torch) and a folder of 20 lines plus
    one broken image."""
    root = tmp_path_factory.mktemp("job")
    model = root / "tiny.onnx"
    export_onnx(random_model(), model)
    lines = write_gt_folder(root / "lines", line_texts(20, seed=5))
    (lines / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return model, lines


def _records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_output_resumes_where_an_interrupted_run_stopped(job, tmp_path):
    model, lines = job
    output = tmp_path / "results.jsonl"
    first = run("predict", model, lines, "-o", output, "--batch-size", "4")
    assert first.exit_code == 1  # the broken image, recorded and counted
    assert "zz_broken.png: damaged image" in first.output
    assert f"{output}: 21 images, 20 read now, 0 read before, 1 unreadable" in first.output
    complete = _records(output)
    assert len(complete) == 21 and sum(r["error"] is not None for r in complete) == 1
    # a crash after 12 records, in the middle of writing the 13th
    kept = output.read_bytes().split(b"\n")[:12]
    output.write_bytes(b"\n".join(kept) + b"\n" + b'{"file": "half')
    resumed = run("predict", model, lines, "-o", output, "--batch-size", "4")
    assert "21 images, 8 read now, 12 read before, 1 unreadable" in resumed.output
    records = _records(output)
    read = [r for r in records if r["error"] is None]
    assert sorted(r["file"] for r in read) == sorted(r["file"] for r in complete if r["error"] is None)
    assert {r["file"]: r["text"] for r in read} == {r["file"]: r["text"] for r in complete if r["error"] is None}


def test_worker_processes_give_the_same_results(job, tmp_path):
    model, lines = job
    alone = run("predict", model, lines, "-o", tmp_path / "one.jsonl", "--batch-size", "4")
    shared = run("predict", model, lines, "-o", tmp_path / "two.jsonl", "--batch-size", "4", "--jobs", "2")
    assert alone.exit_code == shared.exit_code == 1, shared.output
    assert _records(tmp_path / "two.jsonl") == _records(tmp_path / "one.jsonl")


def test_text_folder_output_gets_one_file_per_readable_image(job, tmp_path):
    model, lines = job
    output = tmp_path / "texts"
    first = run("predict", model, lines, "--output-dir", output)
    assert first.exit_code == 1
    texts = sorted(output.glob("*.txt"))
    assert len(texts) == 20 and not (output / "zz_broken.txt").exists()
    texts[0].unlink()
    again = run("predict", model, lines, "--output-dir", output)
    assert "21 images, 1 read now, 19 read before, 1 unreadable" in again.output


def test_conflicting_output_options_are_refused(job, tmp_path):
    model, lines = job
    both = run("predict", model, lines, "-o", tmp_path / "r.jsonl", "--output-dir", tmp_path / "t")
    assert both.exit_code == 2 and "give --output or --output-dir, not both" in both.output
    tsv = run("predict", model, lines, "-o", tmp_path / "r.jsonl", "-f", "tsv")
    assert tsv.exit_code == 2 and "gets JSON records" in tsv.output
