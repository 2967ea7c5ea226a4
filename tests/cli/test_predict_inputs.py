"""What `predict` reads: files, folders, globs and manifests that list images."""

from __future__ import annotations

import pytest

from linescribe.cli.predict import expand_inputs
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
    # a glob over a folder takes its files as they are: an earlier `-o out.tsv` is not a manifest
    images, _, _ = expand_inputs((str(tmp_path / "*"),))
    assert images == [str(tmp_path / "a.png"), str(tmp_path / "list.tsv")]
