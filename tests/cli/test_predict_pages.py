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


def _texts(xml: bytes) -> list[str]:
    """The text of each TextLine of a PAGE or ALTO file, as our readers read it."""
    from xml.etree.ElementTree import fromstring

    lines = [node for node in fromstring(xml).iter() if node.tag.endswith("}TextLine")]
    return [
        next((equiv[0].text or "" for equiv in line if equiv.tag.endswith("}TextEquiv")), "")
        or " ".join(word.get("CONTENT", "") for word in line if word.tag.endswith("}String"))
        for line in lines
    ]


def test_a_folder_of_page_and_alto_files_is_read_into_copies_of_the_same_name(tmp_path):
    """Each file is recognised by its content (PAGE or ALTO, whatever its name), its lines read and
    its copy written under the same name; the inputs stay as they were."""
    from linescribe.metrics import char_distance

    export = tmp_path / "export"
    page = write_document(export, "p1", "page")
    alto = write_document(export / "sub", "p2", "alto", seed=1)
    (export / "mets.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")  # not a page: left out
    before = {path: path.read_bytes() for path in (page, alto)}
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["predict", str(export), "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["p1.xml", "sub", "sub/p2.xml"]
    assert all(path.read_bytes() == data for path, data in before.items())
    for written in (out / "p1.xml", out / "sub" / "p2.xml"):
        texts = _texts(written.read_bytes())  # the default model reads handwriting: printed lines roughly
        assert char_distance("\n".join(PAGE_TEXTS), "\n".join(texts).lower()) <= 0.25 * len("\n".join(PAGE_TEXTS)), texts
    assert b"<String " in (out / "sub" / "p2.xml").read_bytes() and b'<TextEquiv conf="' in (out / "p1.xml").read_bytes()


def test_a_page_file_is_printed_and_never_overwritten_unless_asked(tmp_path):
    page = write_document(tmp_path, "letter", "page")
    original = page.read_bytes()
    runner = CliRunner()
    shown = runner.invoke(main, ["predict", str(page)])
    assert shown.exit_code == 0, shown.output
    assert len(shown.output.strip().splitlines()) == len(PAGE_TEXTS)
    as_json = json.loads(runner.invoke(main, ["predict", "-f", "json", str(page)]).output)
    (document,) = as_json
    assert document["document"] == str(page) and len(document["lines"]) == len(PAGE_TEXTS)
    line = document["lines"][0]
    assert len(line["char_positions"]) == len(line["text"])
    for refused, message in (
        (["--output-dir", str(tmp_path)], "is the input"),
        (["-o", str(page)], "is the input"),
        (["--in-place", "-o", str(tmp_path / "x.txt")], "--in-place writes the files themselves"),
        (["--layout", "page"], "bring their own lines"),
        (["--output-dir", str(tmp_path / "o"), "-f", "json"], "leave out --format json"),
        (["-o", str(tmp_path / "x.jsonl")], "give text or json"),
    ):
        result = runner.invoke(main, ["predict", str(page), *refused])
        assert result.exit_code == 2 and message in result.output, (refused, result.output)
    mixed = runner.invoke(main, ["predict", str(page), str(tmp_path / "letter.png")])
    assert mixed.exit_code == 2 and "not both" in mixed.output
    assert page.read_bytes() == original
    single = runner.invoke(main, ["predict", str(page), "-o", str(tmp_path / "filled.xml")])
    assert single.exit_code == 0 and _texts((tmp_path / "filled.xml").read_bytes()) != _texts(original)
    in_place = runner.invoke(main, ["predict", "--in-place", str(page)])
    assert in_place.exit_code == 0 and in_place.output == ""
    assert page.read_bytes() == (tmp_path / "filled.xml").read_bytes()


def test_a_file_whose_page_image_is_missing_is_reported_and_the_others_read(tmp_path):
    export = tmp_path / "export"
    write_document(export, "a", "alto", image=False)
    write_document(export, "b", "page")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["predict", str(export), "--output-dir", str(out)])
    assert result.exit_code == 1
    assert f"linescribe: error: {export / 'a.xml'}: page image 'a.png' not found" in result.output
    assert "1 of 2 files not read in full" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["b.xml"]  # nothing was read of a.xml: no copy of it
