"""``linescribe predict --layout page``: lines found, read in order, written in every format."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from generated import render_line
from linescribe.cli import main
from linescribe.data.synth.page import PageConfig, compose_page

TEXTS = ["the cat sat on the mat", "a dog ran far away", "home and away", "the mat and the dog", "far far away home"]


def _page(path) -> None:
    lines = [(np.asarray(render_line(text, size=28, seed=n)), text) for n, text in enumerate(TEXTS)]
    flat = PageConfig(skew_degrees=0.0, perspective=0.0, lighting=0.2, ruled_probability=0.0, noise=2.0)
    Image.fromarray(compose_page(lines, np.random.default_rng(0), flat).image).save(path)


def test_page_layout_writes_text_json_page_alto_and_overlay(tmp_path):
    _page(tmp_path / "letter.png")
    runner = CliRunner()
    shown = runner.invoke(main, ["predict", "--layout", "page", str(tmp_path / "letter.png")])
    assert shown.exit_code == 0, shown.output
    assert len(shown.output.strip().splitlines()) == len(TEXTS)

    out = tmp_path / "out"
    written = runner.invoke(main, ["predict", "--layout", "page", "--output-dir", str(out), "--formats",
                                   "text,json,page,alto,overlay", str(tmp_path / "letter.png"), str(tmp_path / "missing.png")])
    assert written.exit_code == 1 and "1 of 2 images unreadable" in written.output
    assert sorted(p.name for p in out.iterdir()) == [
        "letter.alto.xml", "letter.json", "letter.overlay.png", "letter.page.xml", "letter.txt"]
    document = json.loads((out / "letter.json").read_text(encoding="utf-8"))
    assert [line["index"] for line in document["lines"]] == list(range(len(TEXTS)))
