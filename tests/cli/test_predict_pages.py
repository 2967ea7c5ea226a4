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
