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


def test_an_output_folder_mirrors_the_folder_named_so_a_rerun_finds_its_files(job, tmp_path):
    """Mirrored from the images' shared folder, texts/a/1.png's text went to texts/1.txt, and
    once scans/b appeared a rerun read everything again under new names."""
    model, lines = job
    images = sorted(lines.glob("*.png"))[:2]
    (tmp_path / "scans" / "a").mkdir(parents=True)
    (tmp_path / "scans" / "a" / "1.png").write_bytes(images[0].read_bytes())
    first = run("predict", model, tmp_path / "scans", "--output-dir", tmp_path / "texts")
    assert first.exit_code == 0, first.output
    assert [p.relative_to(tmp_path / "texts").as_posix() for p in (tmp_path / "texts").rglob("*.txt")] == ["a/1.txt"]
    (tmp_path / "scans" / "b").mkdir()
    (tmp_path / "scans" / "b" / "2.png").write_bytes(images[1].read_bytes())
    again = run("predict", model, tmp_path / "scans", "--output-dir", tmp_path / "texts")
    assert "2 images, 1 read now, 1 read before, 0 unreadable" in again.output
    inside = run("predict", model, tmp_path / "scans", "--output-dir", tmp_path / "scans" / "b")
    assert "scans/b: 1 images inside the output folder are left out" in inside.output


def test_results_never_go_over_an_input_and_a_tsv_reads_back_from_its_own_folder(job, tmp_path):
    model, lines = job
    image = tmp_path / "line.png"
    image.write_bytes(sorted(lines.glob("*.png"))[0].read_bytes())
    over = run("predict", model, image, "-o", image)
    assert over.exit_code == 2 and f"-o {image} is the input {image}" in over.output
    assert image.read_bytes()[:4] == b"\x89PNG"
    manifest = tmp_path / "list.tsv"
    manifest.write_text("line.png\n", encoding="utf-8")
    refused = run("predict", model, manifest, "-o", manifest)
    assert refused.exit_code == 2 and manifest.read_text(encoding="utf-8") == "line.png\n"
    (tmp_path / "out").mkdir()
    written = run("predict", model, manifest, "-o", tmp_path / "out" / "read.tsv")
    assert written.exit_code == 0, written.output
    from linescribe.data.readers.manifest import image_paths

    assert image_paths(tmp_path / "out" / "read.tsv") == [str(tmp_path / "out" / ".." / "line.png")]


def test_nothing_read_is_an_input_error_and_page_reading_shows_its_progress(job, tmp_path):
    model, lines = job
    broken = run("predict", model, lines / "zz_broken.png")
    assert broken.exit_code == 2 and "1 of 1 images unreadable" in broken.output
    page = run("predict", model, "--layout", "page", "--progress", sorted(lines.glob("*.png"))[0])
    assert page.exit_code == 0 and "1/1" in page.output  # the bar, on stderr


def test_a_file_name_that_is_not_utf8_is_printed_with_its_bytes(job, tmp_path):
    """A strict UTF-8 stdout (a desktop's) stopped at such a name, and the lines before it were lost."""
    import os
    import subprocess
    import sys

    model, lines = job
    folder = tmp_path / "names"
    folder.mkdir()
    for name in (b"ok.png", b"caf\xe9.png"):
        (folder / os.fsdecode(name)).write_bytes(sorted(lines.glob("*.png"))[0].read_bytes())
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run([sys.executable, "-m", "linescribe", "predict", str(model), str(folder)], capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.count(b"\n") == 2 and b"caf\xe9.png\t" in done.stdout
