"""``linescribe predict --layout page``: lines found, read in order, written in every format."""

from __future__ import annotations

import json

from click.testing import CliRunner
from PIL import Image

from generated import PAGE_TEXTS, printed_page
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
    assert written.exit_code == 1 and "1 of 2 images unreadable" in written.output
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


def test_page_layout_refuses_resumable_jsonl_output(tmp_path):
    Image.fromarray(printed_page().image).save(tmp_path / "letter.png")
    result = CliRunner().invoke(main, ["predict", "--layout", "page", "-o", str(tmp_path / "x.jsonl"), str(tmp_path / "letter.png")])
    assert result.exit_code == 2 and "with --layout page use -f json" in result.output
