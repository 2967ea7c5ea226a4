"""What `predict` reads: files, folders, globs and manifests that list images."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from generated import random_model, render_line, write_document
from linescribe.cli import main
from linescribe.cli.predict import expand_inputs, input_base
from linescribe.data.readers.manifest import image_paths
from linescribe.errors import DatasetError


def test_a_manifest_lists_images_relative_to_itself_by_column_name_or_first_column(tmp_path):
    (tmp_path / "sub").mkdir()
    headed = tmp_path / "sub" / "lines.tsv"
    headed.write_text("id\tfile\ttext\nl1\ta.png\tsome text\nl2\t/abs/b.png\tmore\n", encoding="utf-8")
    assert image_paths(headed) == [str(tmp_path / "sub" / "a.png"), "/abs/b.png"]
    plain = tmp_path / "list.txt"
    plain.write_text("x/1.png\n\nx/2.png\n", encoding="utf-8")  # blank rows are no images
    assert image_paths(plain) == [str(tmp_path / "x" / "1.png"), str(tmp_path / "x" / "2.png")]
    quoted = tmp_path / "lines.csv"
    quoted.write_text('path,text\n"with, comma.png","a, b"\n', encoding="utf-8")
    assert image_paths(quoted) == [str(tmp_path / "with, comma.png")]


def test_an_empty_or_holed_manifest_is_refused_by_name(tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="empty.tsv: manifest is empty"):
        image_paths(empty)
    holed = tmp_path / "holed.tsv"
    holed.write_text("file\ttext\n\tno image\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="holed.tsv: row 2 names no image"):
        image_paths(holed)


def test_manifests_are_read_when_named_but_not_when_a_glob_matches_them(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "list.tsv").write_text("a.png\nb.png\n", encoding="utf-8")
    images, documents, problems = expand_inputs((str(tmp_path / "list.tsv"),))
    assert images == [str(tmp_path / "a.png"), str(tmp_path / "b.png")] and not documents and not problems
    # a glob over a folder takes its images only: an earlier `-o out.tsv` is not a manifest
    images, _, _ = expand_inputs((str(tmp_path / "*"),))
    assert images == [str(tmp_path / "a.png")]


def test_a_glob_takes_the_images_and_xml_files_it_matches_and_searches_the_folders(tmp_path):
    for name in ("scans/a/1.png", "scans/a/notes.txt", "scans/b/c/2.JPG", "scans/3.tif", "scans/out.jsonl", "pages/p.xml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    images, documents, problems = expand_inputs((str(tmp_path / "scans" / "*"), str(tmp_path / "pages" / "*")))
    assert images == [str(tmp_path / name) for name in ("scans/3.tif", "scans/a/1.png", "scans/b/c/2.JPG")]
    assert documents == [str(tmp_path / "pages" / "p.xml")] and not problems
    # "**" matches each folder and each file in it: every image still comes once
    assert expand_inputs((str(tmp_path / "scans" / "**"),), exclude=tmp_path / "scans" / "a")[0] == [
        str(tmp_path / name) for name in ("scans/3.tif", "scans/b/c/2.JPG")]


def test_a_glob_that_matches_nothing_is_reported_by_name_and_the_rest_read(tmp_path):
    from linescribe.modelfile.export import export_onnx

    export_onnx(random_model(), tmp_path / "tiny.onnx")
    render_line("abc").save(tmp_path / "a.png")
    images, _, _ = expand_inputs((str(tmp_path / "a.png"), str(tmp_path / "missing" / "*.png")))
    assert images == [str(tmp_path / "a.png"), str(tmp_path / "missing" / "*.png")]
    (tmp_path / "notes.txt").write_text("not an image")  # matched, but by no image: the pattern is reported too
    assert expand_inputs((str(tmp_path / "*.txt"),))[0] == [str(tmp_path / "*.txt")]
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "tiny.onnx"), str(tmp_path / "a.png"), str(tmp_path / "missing" / "*.png")])
    assert result.exit_code == 1
    assert f"linescribe: error: {tmp_path / 'missing' / '*.png'}: image file not found" in result.output
    assert "1 of 2 images unreadable" in result.output


def test_a_folder_of_page_files_says_which_other_images_it_leaves_out(tmp_path, capsys):
    """Regression: the line images of a folder that also held PAGE/ALTO files were left out
    without a word. The documents' own page images, thumbnails and binarised copies (named after
    a document) are no line images; refusing the folder refused every OCR-D workspace."""
    document = write_document(tmp_path / "project" / "pages", "p1", "page")  # p1.png, its page, beside it
    (tmp_path / "project" / "thumbs").mkdir()
    render_line("abc").save(tmp_path / "project" / "thumbs" / "p1.jpg")
    render_line("abc").save(tmp_path / "project" / "pages" / "p1.bin.png")
    assert expand_inputs((str(tmp_path / "project"),)) == ([], [str(document)], [])
    assert "warning" not in capsys.readouterr().err
    (tmp_path / "project" / "lines").mkdir()
    for name in ("l1.png", "l2.png"):
        render_line("abc").save(tmp_path / "project" / "lines" / name)
    assert expand_inputs((str(tmp_path / "project"),)) == ([], [str(document)], [])
    warning = capsys.readouterr().err
    assert f"{tmp_path / 'project'}: reading its 1 PAGE/ALTO files; 2 images named after none of them" in warning
    assert "give them as their own inputs" in warning
    assert expand_inputs((str(tmp_path / "project" / "lines"),))[0] == [
        str(tmp_path / "project" / "lines" / name) for name in ("l1.png", "l2.png")]


def test_each_file_is_read_once_however_often_named_and_linked_folders_are_searched(tmp_path):
    """An image named twice was read and recorded twice (or refused as two images with one
    output); a folder's symbolically linked subfolders were left out, a glob's were not."""
    for name in ("scans/a.png", "elsewhere/b.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "scans" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "scans" / "loop").symlink_to(tmp_path / "scans")  # each real folder once: no loop
    a = str(tmp_path / "scans" / "a.png")
    images, _, _ = expand_inputs((a, str(tmp_path / "scans"), str(tmp_path / "scans" / "*.png"), str(tmp_path / "scans" / "." / "a.png")))
    assert images == [a, str(tmp_path / "scans" / "linked" / "b.png")]


def test_the_base_an_output_folder_mirrors_is_the_folder_named(tmp_path):
    (tmp_path / "scans" / "a").mkdir(parents=True)
    assert input_base((str(tmp_path / "scans"),)) == str(tmp_path / "scans")
    assert input_base((str(tmp_path / "scans" / "*" / "*.png"),)) == str(tmp_path / "scans")
    assert input_base((str(tmp_path / "scans" / "a" / "1.png"), str(tmp_path / "scans" / "b.png"))) == str(tmp_path / "scans")
    assert input_base(("**/x.png", "*.png")) == os.getcwd()  # a glob from here: here, not a folder named "**"
    (tmp_path / "scans[1]" / "a").mkdir(parents=True)
    (tmp_path / "scans[1]" / "a" / "1.png").write_bytes(b"")  # a file whose name looks like a glob is a file
    assert input_base((str(tmp_path / "scans[1]" / "a" / "1.png"),)) == str(tmp_path / "scans[1]" / "a")
