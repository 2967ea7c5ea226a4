"""Resumable results of large reading jobs: JSON Lines and folders of .txt files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from linescribe import large_jobs
from linescribe.large_jobs import JsonlResults, ModelSpec, PageFolderResults, TextFolderResults, read_in_processes
from linescribe.errors import LinescribeError
from linescribe.inference import Prediction


def _read(source: str, text: str = "some text") -> Prediction:
    return Prediction(source, text, 0.9, tuple(0.9 for _ in text), word_confidences=tuple((w, 0.9) for w in text.split()))


def _failed(source: str) -> Prediction:
    return Prediction(source, "", 0.0, error=f"{source}: not an image file Pillow can read")


def test_jsonl_results_are_appended_and_read_images_count_as_done(tmp_path):
    path = tmp_path / "out" / "results.jsonl"
    results = JsonlResults(path)
    results.write([_read("a.png", "first"), _failed("b.png")])
    results.write([_read("c.png")])
    results.close()
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(r["file"], r["text"], r["error"]) for r in records] == [
        ("a.png", "first", None), ("b.png", "", "b.png: not an image file Pillow can read"), ("c.png", "some text", None)
    ]
    assert records[0]["words"] == [{"text": "first", "confidence": 0.9}]
    reopened = JsonlResults(path)
    assert reopened.done == {"a.png", "c.png"}  # b.png failed: tried again on the next run
    reopened.close()


def test_a_file_name_that_is_not_utf8_is_written_and_found_done_on_resume(tmp_path):
    name = os.fsdecode(b"scans/caf\xe9.png")  # an old Latin-1 archive's name: a lone surrogate in Python
    path = tmp_path / "results.jsonl"
    results = JsonlResults(path)
    results.write([_read(name, "café"), _read("ok.png")])
    results.close()
    assert "café" in path.read_text(encoding="utf-8")  # text stays readable; only the name is escaped
    reopened = JsonlResults(path)
    assert reopened.done == {name, "ok.png"}
    reopened.close()


def test_a_torn_last_line_is_cut_off_and_its_image_read_again(tmp_path):
    path = tmp_path / "results.jsonl"
    results = JsonlResults(path)
    results.write([_read("a.png"), _read("b.png", "text with\u2028a line separator")])
    results.close()
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"file": "c.png", "te')  # a crash in the middle of a write
    resumed = JsonlResults(path)
    assert resumed.done == {"a.png", "b.png"}
    resumed.write([_read("c.png")])
    resumed.close()
    assert [json.loads(line)["file"] for line in path.read_text(encoding="utf-8").split("\n") if line] == ["a.png", "b.png", "c.png"]


def test_the_zeros_a_power_loss_leaves_at_the_end_are_cut_off(tmp_path):
    path = tmp_path / "results.jsonl"
    results = JsonlResults(path)
    results.write([_read("a.png")])
    results.close()
    whole = path.read_bytes()
    path.write_bytes(whole + b"\0" * 300)  # the file's new size reached the disk, its data did not
    resumed = JsonlResults(path)
    resumed.close()
    assert resumed.done == {"a.png"} and path.read_bytes() == whole


def test_a_file_that_is_not_a_results_file_is_refused(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"file": "a.png", "text": "x"}\nhello\n', encoding="utf-8")
    with pytest.raises(LinescribeError, match="notes.jsonl: line 2 is not a linescribe result record"):
        JsonlResults(path)
    path.write_text('{"file": ["a.png"]}\n', encoding="utf-8")  # another program's records
    with pytest.raises(LinescribeError, match="notes.jsonl: line 1 is not a linescribe result record"):
        JsonlResults(path)


def test_a_foreign_file_without_a_last_newline_is_refused_and_left_whole(tmp_path):
    for name, content in (("one.jsonl", b'{"id": 1, "note": "keep me"}'), ("notes.jsonl", b"keep me too"), ("brace.jsonl", b"{")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(LinescribeError, match=f"{name}: line 1 is not a linescribe result record"):
            JsonlResults(path)
        assert path.read_bytes() == content
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"loss": 0.5}\n{"file": "a.png", "te')  # a torn tail after a line of another file
    with pytest.raises(LinescribeError, match="mixed.jsonl: line 1 is not"):
        JsonlResults(path)
    assert path.read_bytes() == b'{"loss": 0.5}\n{"file": "a.png", "te'


def test_a_whole_last_record_without_its_newline_is_kept_and_the_next_starts_a_line(tmp_path):
    path = tmp_path / "results.jsonl"
    results = JsonlResults(path)
    results.write([_read("a.png"), _read("b.png")])
    results.close()
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # written by hand, or by another tool
    resumed = JsonlResults(path)
    assert resumed.done == {"a.png", "b.png"}
    resumed.write([_read("c.png")])
    resumed.close()
    assert [json.loads(line)["file"] for line in path.read_text(encoding="utf-8").splitlines()] == ["a.png", "b.png", "c.png"]


def _done(results: TextFolderResults | PageFolderResults) -> set[str]:
    """What an output folder holds, its hold on the folder let go."""
    results.close()
    return results.done


def test_text_folder_mirrors_the_inputs_and_skips_what_it_holds(tmp_path):
    paths = [str(tmp_path / "scans" / "p1" / "l1.png"), str(tmp_path / "scans" / "p2" / "l1.jpg")]
    results = TextFolderResults(tmp_path / "out", paths)
    assert results.targets[paths[0]] == tmp_path / "out" / "p1" / "l1.txt"
    assert not results.done
    assert results.write([_read(paths[0], "hello"), _failed(paths[1])]) == []
    results.close()
    assert (tmp_path / "out" / "p1" / "l1.txt").read_text(encoding="utf-8") == "hello\n"
    assert not (tmp_path / "out" / "p2" / "l1.txt").exists()
    assert _done(TextFolderResults(tmp_path / "out", paths)) == {paths[0]}


def test_the_folder_named_is_mirrored_whichever_images_it_holds_now(tmp_path):
    """Mirrored from the folder the images share, a rerun after a second subfolder appeared
    wrote every image's text again under new names."""
    base = str(tmp_path / "scans")
    first = [str(tmp_path / "scans" / "a" / "1.png")]
    results = TextFolderResults(tmp_path / "out", first, base)
    assert results.targets[first[0]] == tmp_path / "out" / "a" / "1.txt"
    results.write([_read(first[0])])
    results.close()
    later = [*first, str(tmp_path / "scans" / "b" / "2.png")]
    assert _done(TextFolderResults(tmp_path / "out", later, base)) == set(first)
    outside = str(tmp_path / "elsewhere" / "3.png")  # listed by a manifest: placed beside, never above the folder
    placed = TextFolderResults(tmp_path / "out", [*first, outside], base)
    placed.close()
    assert placed.targets[outside] == tmp_path / "out" / "elsewhere" / "3.txt"


def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    """A batch job started twice read every image twice and wrote two records for each."""
    jsonl = JsonlResults(tmp_path / "results.jsonl")
    with pytest.raises(LinescribeError, match="results.jsonl: another linescribe run is writing these results"):
        JsonlResults(tmp_path / "results.jsonl")
    jsonl.close()
    JsonlResults(tmp_path / "results.jsonl").close()
    folder = TextFolderResults(tmp_path / "out", ["a.png"])
    with pytest.raises(LinescribeError, match="out: another linescribe run"):
        PageFolderResults(tmp_path / "out", ["a.png"], ("text",))
    folder.close()
    PageFolderResults(tmp_path / "out", ["a.png"], ("text",)).close()


def test_a_page_whose_files_cannot_be_written_is_an_error_of_its_own(tmp_path):
    """A legal 254-byte image name whose .page.xml is too long for the file system stopped the
    job, and every rerun at the same page."""
    long_name = str(tmp_path / ("a" * 250 + ".png"))
    paths = [long_name, str(tmp_path / "b.png")]
    results = PageFolderResults(tmp_path / "out", paths, ("text", "page"))
    outcomes = [
        large_jobs.PageOutcome(path, {"file": path}, {".txt": b"text\n", ".page.xml": b"<xml/>"}) for path in paths
    ]
    errors = results.write(outcomes)
    results.close()
    assert len(errors) == 1 and errors[0].startswith(f"{long_name}: its output ") and "File name too long" in errors[0]
    assert (tmp_path / "out" / "b.page.xml").read_bytes() == b"<xml/>"


def test_text_folder_refuses_two_images_with_one_text_file(tmp_path):
    paths = [str(Path("scans") / "l1.png"), str(Path("scans") / "l1.jpg")]
    with pytest.raises(LinescribeError, match=r"scans/l1.png and scans/l1.jpg would both be written to"):
        TextFolderResults(tmp_path / "out", paths)


def test_empty_output_files_left_by_a_power_loss_do_not_count_as_done(tmp_path):
    paths = [str(tmp_path / "scans" / "l1.png"), str(tmp_path / "scans" / "l2.png")]
    results = TextFolderResults(tmp_path / "out", paths)
    results.write([_read(paths[0], ""), _read(paths[1])])  # a line read as nothing still gets its newline
    results.close()
    assert _done(TextFolderResults(tmp_path / "out", paths)) == set(paths)
    (tmp_path / "out" / "l2.txt").write_bytes(b"")
    assert _done(TextFolderResults(tmp_path / "out", paths)) == {paths[0]}
    (tmp_path / "out" / "l1.txt").write_text("x\n", encoding="utf-8")
    (tmp_path / "out" / "l1.json").write_bytes(b"")
    assert _done(PageFolderResults(tmp_path / "out", paths[:1], ("text", "json"))) == set()
    (tmp_path / "out" / "l1.json").write_bytes(b"{}")
    assert _done(PageFolderResults(tmp_path / "out", paths[:1], ("text", "json"))) == set(paths[:1])


def _start_nothing(spec: ModelSpec) -> None:
    """A worker initializer that loads no model."""


def _die(paths: list[str]) -> list:
    """A worker killed while it reads, as the kernel's OOM killer does."""
    os._exit(9)


def test_a_worker_that_dies_is_reported_in_one_line(monkeypatch):
    monkeypatch.setattr(large_jobs, "_start_worker", _start_nothing)
    monkeypatch.setattr(large_jobs, "_read_in_worker", _die)
    spec = ModelSpec(None, "onnx", 1, {})
    with pytest.raises(LinescribeError, match=r"a worker process died \(out of memory\?\): try fewer --jobs"):
        list(read_in_processes(spec, ["a.png", "b.png", "c.png"], jobs=2, chunk_size=1))


def test_an_unexpected_failure_on_one_page_is_that_pages_error_and_the_others_are_read(monkeypatch):
    import linescribe.layout

    def read_page(recognizer, path, source):
        if path == "odd.png":
            raise IndexError("index -4 is out of bounds for axis 0 with size 3")
        return linescribe.layout.PageResult(path, 10, 10, 0.0, [])

    monkeypatch.setattr(linescribe.layout, "read_page", read_page)
    odd, fine = large_jobs.read_page_outcomes(None, ["odd.png", "fine.png"], ["text"])
    assert odd.error == "odd.png: could not be read (IndexError: index -4 is out of bounds for axis 0 with size 3; a linescribe bug, please report it)"
    assert fine.ok and fine.files == {".txt": b""}


def test_a_page_named_by_a_path_that_only_the_client_can_follow_gets_its_overlay(tmp_path, monkeypatch):
    """Regression: a cluster worker reads the image by its absolute path but names it as the user
    did (relative to the client's folder); the overlay was drawn from that name, so with relative
    paths every page failed on a worker."""
    import numpy as np
    from PIL import Image

    import linescribe.layout

    (tmp_path / "scans").mkdir()
    (tmp_path / "worker").mkdir()
    Image.fromarray(np.full((30, 40), 200, np.uint8)).save(tmp_path / "scans" / "p.png")
    monkeypatch.setattr(linescribe.layout, "read_page", lambda recognizer, path, source: linescribe.layout.PageResult(source, 40, 30, 0.0, []))
    monkeypatch.chdir(tmp_path / "worker")
    [outcome] = large_jobs.read_page_outcomes(None, [str(tmp_path / "scans" / "p.png")], ["overlay"], names=["scans/p.png"])
    assert outcome.ok, outcome.error
    assert outcome.record["file"] == "scans/p.png" and outcome.files[".overlay.png"].startswith(b"\x89PNG")
