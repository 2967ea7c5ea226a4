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


def test_a_format_the_output_folder_would_not_write_is_refused(tmp_path):
    """Regression: ``--output-dir out -f json`` wrote .txt files only; --formats names the files."""
    Image.fromarray(printed_page().image).save(tmp_path / "letter.png")
    for chosen in ("json", "tsv"):
        result = CliRunner().invoke(main, ["predict", "--layout", "page", "--output-dir", str(tmp_path / "out"), "-f", chosen,
                                           str(tmp_path / "letter.png")])
        assert result.exit_code == 2 and f"leave out --format {chosen}" in result.output
        assert "--output-dir writes the files --formats names for each page" in result.output
    assert not (tmp_path / "out").exists()
    tsv = CliRunner().invoke(main, ["predict", "--layout", "page", "-f", "tsv", str(tmp_path / "letter.png")])
    assert tsv.exit_code == 2 and "--layout page writes text or json to stdout or -o FILE" in tsv.output


def _texts(xml: bytes) -> list[str]:
    """The text written into each TextLine of a PAGE or ALTO file: PAGE's last TextEquiv (ours
    comes after the line's own), ALTO's words."""
    from xml.etree.ElementTree import fromstring

    lines = [node for node in fromstring(xml).iter() if node.tag.endswith("}TextLine")]
    return [
        next((equiv[0].text or "" for equiv in reversed(line) if equiv.tag.endswith("}TextEquiv")), "")
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


def test_in_place_writes_through_links_keeps_modes_and_refuses_read_only_files(tmp_path):
    """--in-place edits the files: a private file stays private, a symbolic link stays a link to
    the file it names (which gets the text), and a read-only file is refused in one line while
    the others are written."""
    export, store = tmp_path / "export", tmp_path / "store"
    private = write_document(export, "a", "page")
    private.chmod(0o600)
    linked = write_document(store, "b", "page")
    (export / "b.xml").symlink_to(linked)
    (export / "b.png").write_bytes((store / "b.png").read_bytes())
    frozen = write_document(export, "c", "page")
    frozen.chmod(0o444)
    before = {path: path.read_bytes() for path in (private, linked, frozen)}
    result = CliRunner().invoke(main, ["predict", "--in-place", str(export)])
    assert result.exit_code == 1
    assert f"linescribe: error: {frozen}: read-only file, not rewritten" in result.output
    assert "1 of 3 files not read in full or not written" in result.output and ".tmp" not in result.output
    assert frozen.read_bytes() == before[frozen] and oct(frozen.stat().st_mode & 0o777) == "0o444"
    assert private.read_bytes() != before[private] and oct(private.stat().st_mode & 0o777) == "0o600"
    assert (export / "b.xml").is_symlink() and linked.read_bytes() != before[linked]
    assert b'comments="linescribe"' in linked.read_bytes()


def test_an_unwritable_target_folder_is_refused_before_reading_and_a_failed_write_is_reported(tmp_path, monkeypatch):
    """Every target folder is checked before the model is loaded; a file that cannot be written
    all the same is reported in one line naming it, and the others are written (exit status 1)."""
    import linescribe.cli.predict as predict_module

    export, out = tmp_path / "export", tmp_path / "out"
    write_document(export, "a", "page")
    write_document(export / "sub", "b", "page")
    out.mkdir()
    (out / "sub").write_text("a file where a folder goes", encoding="utf-8")
    loaded = []
    real_load = predict_module.load_reader
    monkeypatch.setattr(predict_module, "load_reader", lambda *args, **kwargs: loaded.append(1) or real_load(*args, **kwargs))
    refused = CliRunner().invoke(main, ["predict", str(export), "--output-dir", str(out)])
    assert refused.exit_code == 2 and f"linescribe: error: {out / 'sub'}: cannot write here" in refused.output
    assert loaded == [] and ".tmp" not in refused.output
    (out / "sub").unlink()
    (out / "a.xml").mkdir()  # a folder where the file goes: only its write fails
    result = CliRunner().invoke(main, ["predict", str(export), "--output-dir", str(out)])
    assert result.exit_code == 1, result.output
    assert f"linescribe: error: {out / 'a.xml'}: not written (Is a directory)" in result.output
    assert "1 of 2 files not read in full or not written" in result.output
    assert (out / "sub" / "b.xml").is_file() and not [p for p in out.rglob("*.tmp")]


def test_broken_xml_beside_the_pages_is_reported_and_a_page_without_lines_is_copied(tmp_path):
    import re

    export, out = tmp_path / "export", tmp_path / "out"
    write_document(export, "p1", "page")
    blank = write_document(export, "blank", "page")
    blank.write_text(re.sub(r"\s*<TextLine .*?</TextLine>", "", blank.read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
    (export / "broken.xml").write_text("<PcGts", encoding="utf-8")
    (export / "mets.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")
    result = CliRunner().invoke(main, ["predict", str(export), "--output-dir", str(out)])
    assert result.exit_code == 1
    assert f"linescribe: error: {export / 'broken.xml'}: malformed XML: unclosed token" in result.output
    assert "mets.xml" not in result.output and "1 of 3 files not read in full or not written" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["blank.xml", "p1.xml"]
    assert b"<TextLine" not in (out / "blank.xml").read_bytes() and b"old region text" in (out / "blank.xml").read_bytes()


def test_an_output_folder_inside_the_inputs_is_not_read_again_and_no_input_is_overwritten(tmp_path):
    export = tmp_path / "export"
    page = write_document(export, "p1", "page")
    runner = CliRunner()
    for _ in range(2):  # the rerun does not read export/out/p1.xml as an input
        result = runner.invoke(main, ["predict", str(export), "--output-dir", str(export / "out")])
        assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(export)) for p in export.rglob("*")) == ["out", "out/p1.xml", "p1.png", "p1.xml"]
    # export/p1.xml would go to export/out/p1.xml, which is another input: refused
    copy = export / "out" / "p1.xml"
    before = copy.read_bytes()
    refused = runner.invoke(main, ["predict", str(page), str(copy), "--output-dir", str(export / "out")])
    assert refused.exit_code == 2 and f"{copy} is the input {copy}" in refused.output
    (export / "link.xml").symlink_to(page)
    linked = runner.invoke(main, ["predict", str(page), "-o", str(export / "link.xml")])
    assert linked.exit_code == 2 and f"{export / 'link.xml'} is the input {page}" in linked.output
    assert copy.read_bytes() == before
