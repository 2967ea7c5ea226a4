"""``linescribe predict --layout page``: lines found, read in order, written in every format."""

from __future__ import annotations

import json

from click.testing import CliRunner
from PIL import Image

from generated import PAGE_TEXTS, printed_page, write_document
from linescribe.cli import main


def test_page_layout_writes_text_json_page_alto_and_overlay(tmp_path):
    Image.fromarray(printed_page().image).save(tmp_path / "letter.png")
    runner = CliRunner()
    shown = runner.invoke(main, ["predict", "--layout", "page", str(tmp_path / "letter.png")])
    assert shown.exit_code == 0, shown.output
    assert len(shown.output.strip().splitlines()) == len(PAGE_TEXTS)

    out = tmp_path / "out"
    written = runner.invoke(main, ["predict", "--layout", "page", "--output-dir", str(out), "--formats",
                                   "text,json,page,alto,overlay", str(tmp_path / "letter.png"), str(tmp_path / "missing.png")])
    assert written.exit_code == 1 and "2 images, 1 read now, 0 read before, 1 unreadable" in written.output
    assert sorted(p.name for p in out.iterdir()) == [
        "letter.alto.xml", "letter.json", "letter.overlay.png", "letter.page.xml", "letter.txt"]
    document = json.loads((out / "letter.json").read_text(encoding="utf-8"))
    assert [line["index"] for line in document["lines"]] == list(range(len(PAGE_TEXTS)))


def test_pages_of_the_same_name_in_two_folders_keep_both_outputs(tmp_path):
    for folder, seed in (("a", 0), ("b", 1)):
        (tmp_path / folder).mkdir()
        Image.fromarray(printed_page(PAGE_TEXTS[:2], seed=seed).image).save(tmp_path / folder / "1.png")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["predict", "--layout", "page", "--output-dir", str(out), str(tmp_path / "a" / "1.png"), str(tmp_path / "b" / "1.png")])
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.txt")) == ["a/1.txt", "b/1.txt"]


def test_page_layout_jsonl_and_folder_outputs_are_resumable(tmp_path):
    Image.fromarray(printed_page().image).save(tmp_path / "letter.png")
    runner = CliRunner()
    records = tmp_path / "x.jsonl"
    first = runner.invoke(main, ["predict", "--layout", "page", "-o", str(records), str(tmp_path / "letter.png")])
    assert first.exit_code == 0, first.output
    [record] = [json.loads(line) for line in records.read_text(encoding="utf-8").splitlines()]
    assert record["file"] == str(tmp_path / "letter.png") and record["error"] is None
    assert len(record["lines"]) == len(PAGE_TEXTS) and record["text"] == "\n".join(line["text"] for line in record["lines"])
    again = runner.invoke(main, ["predict", "--layout", "page", "-o", str(records), str(tmp_path / "letter.png")])
    assert "1 images, 0 read now, 1 read before" in again.output and len(records.read_text().splitlines()) == 1

    out = tmp_path / "out"
    arguments = ["predict", "--layout", "page", "--output-dir", str(out), "--formats", "text,alto", str(tmp_path / "letter.png")]
    assert runner.invoke(main, arguments).exit_code == 0
    (out / "letter.alto.xml").unlink()  # an image is done when all its files are there
    assert "1 images, 1 read now, 0 read before" in runner.invoke(main, arguments).output
    assert sorted(p.name for p in out.iterdir()) == ["letter.alto.xml", "letter.txt"]


def test_formats_are_refused_where_nothing_would_write_them(tmp_path):
    Image.fromarray(printed_page().image).save(tmp_path / "letter.png")
    result = CliRunner().invoke(main, ["predict", "--formats", "alto", str(tmp_path / "letter.png")])
    assert result.exit_code == 2 and "--formats is for --layout page with --output-dir" in result.output
    unknown = CliRunner().invoke(main, ["predict", "--layout", "page", "--output-dir", str(tmp_path / "o"), "--formats", "pdf",
                                        str(tmp_path / "letter.png")])
    assert unknown.exit_code == 2 and "unknown --formats 'pdf'" in unknown.output
