"""Each reader on a small dataset in its real format, the real PAGE/ALTO samples, and dataset specs."""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from linescribe.data.dataset import load_dataset
from linescribe.data.images import load_sample_image
from linescribe.data.readers import READERS, DatasetSpec, parse_spec, read_entries
from linescribe.data.sample import Sample, Skipped
from linescribe.errors import DatasetError

Entries = list[Sample | Skipped]
FIXTURES = Path(__file__).parents[1] / "fixtures"


def read(format: str, path: Path) -> Entries:
    return list(read_entries(DatasetSpec(format, path)))


def samples_of(entries: Entries) -> dict[str, Sample]:
    return {entry.id: entry for entry in entries if isinstance(entry, Sample)}


def reasons_of(entries: Entries) -> dict[str, str]:
    return {entry.id: entry.reason for entry in entries if isinstance(entry, Skipped)}


def manifest_texts(shared_data: Path, dataset: str, page: str) -> dict[str, str]:
    """line_id -> text of one page, from the real manifest built from the same XML."""
    with (shared_data / "lines" / dataset / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {row["line_id"]: row["text"] for row in rows if row["page"] == page}


# --- IAM ---------------------------------------------------------------------------------------


def test_iam_reads_lines_txt_with_forms(iam_root: Path) -> None:
    entries = read("iam", iam_root)
    samples = samples_of(entries)
    assert list(samples) == ["a01-000u-00", "a01-000u-01", "a01-000u-02", "a01-117-05-02"]
    first = samples["a01-000u-00"]
    assert first.text == "A MOVE to stop Mr. Gaitskell from"
    assert first.path == iam_root / "lines" / "a01" / "a01-000u" / "a01-000u-00.png"
    assert (first.group, first.writer, first.size_hint) == ("a01-000u", "000", (1663, 91))
    assert samples["a01-000u-01"].text == "nominating any more Labour life Peers"  # an err line is kept
    assert samples["a01-000u-02"].text == "\"Yes , \" said he 's sure"  # unescaped, extra tokens joined
    assert samples["a01-000u-02"].size_hint is None  # -1 height: unknown, not a size
    reasons = reasons_of(entries)
    assert reasons["a01-000u-03"] == "empty transcription"
    assert reasons["b02-010-00"] == "image file missing"
    assert reasons["c03-003-00"] == "malformed line in lines.txt (fewer than 8 fields)"


def test_iam_images_unpacked_without_a_lines_folder_are_found(iam_root: Path) -> None:
    """lines.tgz holds a01/a01-000u/...png with no lines/ folder above them."""
    before = read("iam", iam_root)
    for folder in sorted((iam_root / "lines").iterdir()):
        folder.rename(iam_root / folder.name)
    (iam_root / "lines").rmdir()
    after = read("iam", iam_root)
    assert samples_of(after)["a01-000u-00"].path == iam_root / "a01" / "a01-000u" / "a01-000u-00.png"
    texts = [{id: sample.text for id, sample in samples_of(entries).items()} for entries in (before, after)]
    assert texts[0] == texts[1] and len(texts[1]) == 4
    assert reasons_of(after) == reasons_of(before)


def test_iam_without_any_image_says_where_they_are_looked_for(iam_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        read("iam", iam_root)  # some images missing: the summary says so, as for any dataset
    assert not caplog.records
    shutil.rmtree(iam_root / "lines")
    with caplog.at_level("WARNING"):
        entries = read("iam", iam_root)
    assert not samples_of(entries) and list(reasons_of(entries).values()).count("image file missing") == 6
    assert f"{iam_root}: none of the 6 line images of lines.txt was found" in caplog.text
    assert "lines/a01/a01-000u/a01-000u-00.png or a01/a01-000u/a01-000u-00.png below it" in caplog.text


def test_iam_metadata_with_a_byte_order_mark_keeps_its_first_id_and_comment(iam_root: Path) -> None:
    """Saved by a Windows editor, lines.txt and forms.txt start with a BOM: it is no part of the
    first line, which stays a comment (lines.txt) or a form id (forms.txt)."""
    for name in ("lines.txt", "forms.txt"):
        path = iam_root / "ascii" / name
        path.write_text("\ufeff" + path.read_text(encoding="utf-8"), encoding="utf-8")
    entries = read("iam", iam_root)
    assert [entry.id for entry in entries][0] == "a01-000u-00"  # the comment header is no entry
    assert samples_of(entries)["a01-000u-00"].writer == "000"
    (iam_root / "ascii" / "lines.txt").write_text(
        "\ufeffa01-000u-00 ok 154 19 408 746 1663 91 A|MOVE\n", encoding="utf-8"
    )
    assert list(samples_of(read("iam", iam_root))) == ["a01-000u-00"]


def test_iam_without_forms_has_no_writer_and_sniffs_root_lines_txt(iam_root: Path) -> None:
    (iam_root / "ascii" / "forms.txt").unlink()
    (iam_root / "ascii" / "lines.txt").rename(iam_root / "lines.txt")
    assert READERS["iam"].sniff(iam_root)
    assert {sample.writer for sample in samples_of(read("iam", iam_root)).values()} == {""}


def test_iam_folder_without_lines_txt_is_refused(tmp_path: Path) -> None:
    assert not READERS["iam"].sniff(tmp_path)
    with pytest.raises(DatasetError, match="no lines.txt"):
        read("iam", tmp_path)


def test_iam_replaces_only_well_formed_entities(iam_root: Path) -> None:
    """``&quot;`` is lines.txt's quote; an ``&`` without ``;`` is ink (html.unescape made ``&not`` a ``¬``)."""
    lines_txt = iam_root / "ascii" / "lines.txt"
    lines_txt.write_text(
        "a01-000u-00 ok 154 19 408 746 1663 91 AT&T|&not|&notx;|&amp;|&quot;x&quot;|&#39;|&#x41;|&bogus;\n",
        encoding="utf-8",
    )
    assert samples_of(read("iam", iam_root))["a01-000u-00"].text == "AT&T &not &notx; & \"x\" ' A &bogus;"


# --- gt folder ---------------------------------------------------------------------------------


def test_gt_folder_pairs_images_and_labels(gt_root: Path) -> None:
    entries = read("gt", gt_root)
    assert [entry.id for entry in entries] == sorted(entry.id for entry in entries)
    samples = samples_of(entries)
    assert list(samples) == ["train/JDH_2_16_144_001_r1l1", "train/JDH_2_16_144_001_r1l2", "val/plain"]
    first = samples["train/JDH_2_16_144_001_r1l1"]
    assert first.text == "The Lords Peers"  # NBSP and double spaces collapsed, stripped
    assert first.path == gt_root / "train" / "JDH_2_16_144_001_r1l1.png"
    assert first.group == "train/JDH_2_16_144_001"  # under its folder: another folder's page of that name is another page
    assert samples["train/JDH_2_16_144_001_r1l2"].text == "Café &c"  # NFC; trailing blank lines ignored
    assert samples["train/JDH_2_16_144_001_r1l2"].path.suffix == ".webp"
    assert samples["val/plain"].text == "no underscore in this stem"  # BOM dropped
    assert samples["val/plain"].group == "val"  # no "_" in the stem: the folder is the group
    assert reasons_of(entries) == {
        "orphan_r1": "image file missing",
        "train/JDH_2_16_144_001_r1l3": "multi-line transcription",
        "train/JDH_2_16_144_001_r1l4": "empty transcription",
        "val/unlabelled_r9": "no .gt.txt",
    }


def test_gt_folder_groups_lines_by_folder_and_page(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    """One folder per page holding stems that are only line ids (eScriptorium, kraken exports):
    the folder is the page; else the stem's page is taken under its folder. At the root a stem
    that is only a line id belongs to the root's page (it was "tr_1": every page's region 1);
    others keep the groups they always had (trained models and split lists name them)."""
    stems = [
        "p001/tr_1_tl_3", "p001/tr_2_tl_1", "p002/tr_1_tl_1",  # region 1 of both pages once shared a group "tr_1"
        "q001/line_0001", "q002/line_0002",  # once all "line": a single document, nothing to hold out
        "a/JDH_1_r1l1", "b/JDH_1_r1l1",  # the same page name in two folders
        "JDH_2_r1l1", "tr_1_tl_3",
    ]
    for stem in stems:
        line_image(tmp_path / f"{stem}.png")
        (tmp_path / f"{stem}.gt.txt").write_text("a line", encoding="utf-8")
    groups = {sample.id: sample.group for sample in samples_of(read("gt", tmp_path)).values()}
    assert groups == {
        "p001/tr_1_tl_3": "p001", "p001/tr_2_tl_1": "p001", "p002/tr_1_tl_1": "p002",
        "q001/line_0001": "q001", "q002/line_0002": "q002",
        "a/JDH_1_r1l1": "a/JDH_1", "b/JDH_1_r1l1": "b/JDH_1",
        "JDH_2_r1l1": "JDH_2", "tr_1_tl_3": tmp_path.name,  # at the root: the page, or for a bare line id the root
    }


def test_gt_folder_with_split_subfolders_is_warned_about_once(gt_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``lines/mss19`` read as one folder holds its train, val and test lines together."""
    with caplog.at_level("WARNING"):
        read("gt", gt_root)
        read("gt", gt_root / "train")
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == [
        f"{gt_root}: reading its train, val subfolders as one dataset; name the split's folder (e.g. {gt_root / 'train'}) to read one split"
    ]


def test_gt_folder_follows_symlinked_folders_once(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    """A folder of links to the folders of another export is read, and a link back up the
    tree is no loop."""
    elsewhere = tmp_path / "elsewhere"
    line_image(elsewhere / "page_r1l1.png")
    (elsewhere / "page_r1l1.gt.txt").write_text("linked line", encoding="utf-8")
    root = tmp_path / "lines"
    line_image(root / "own_r1l1.png")
    (root / "own_r1l1.gt.txt").write_text("own line", encoding="utf-8")
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert READERS["gt"].sniff(tmp_path / "lines")
    samples = samples_of(read("gt", root))
    assert {id: sample.text for id, sample in samples.items()} == {"linked/page_r1l1": "linked line", "own_r1l1": "own line"}
    assert samples["linked/page_r1l1"].path == root / "linked" / "page_r1l1.png"


def test_labels_lose_invisible_format_characters_but_keep_joiners(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    """A zero-width space, soft hyphen, word joiner, direction mark or stray BOM is no ink, and
    would become a class of the alphabet; ZWNJ/ZWJ shape the letters beside them, and the Arabic
    number sign is written, so they stay."""
    labels = {
        "a": "\u200bThe\u00ad Lord\u2060s\u200e \ufeff Peers\u200b",
        "b": "Cafe\u200b\u0301",  # once the space is gone, the accent composes with its letter
        "c": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u0600\u0661",
        "d": "\u200b\ufeff",
        "e": "a\x01b\x1bc\x7f\x9bd\te",  # control characters go, whitespace ones become spaces
    }
    for stem, label in labels.items():
        line_image(tmp_path / f"{stem}.png")
        (tmp_path / f"{stem}.gt.txt").write_text(label, encoding="utf-8")
    entries = read("gt", tmp_path)
    assert {id: sample.text for id, sample in samples_of(entries).items()} == {
        "a": "The Lords Peers",
        "b": "Café",
        "c": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u0600\u0661",
        "e": "abcd e",
    }
    assert reasons_of(entries) == {"d": "empty transcription"}


def test_gt_folder_refuses_two_images_for_one_label(gt_root: Path, line_image: Callable[..., Path]) -> None:
    line_image(gt_root / "val" / "plain.png")
    assert reasons_of(read("gt", gt_root))["val/plain"] == "several images share one .gt.txt"


def test_gt_folder_reads_real_hooker_train_quickly(shared_data: Path) -> None:
    started = time.perf_counter()
    entries = read("gt", shared_data / "lines" / "hooker" / "train")
    elapsed = time.perf_counter() - started
    assert len(entries) == 6232 and all(isinstance(entry, Sample) for entry in entries)
    assert elapsed < 10, f"reading 6k lines took {elapsed:.1f} s"


# --- TSV / CSV manifests -----------------------------------------------------------------------


def test_tsv_without_header_keeps_quotes_and_reports_bad_rows(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    line_image(tmp_path / "img" / "a.png")
    line_image(tmp_path / "img" / "b.png")
    manifest = tmp_path / "lines.tsv"
    manifest.write_text(
        'img/a.png\tHe said "no, never"\n\nimg/b.png\tone\ttoo many\nimg/missing.png\tgone\nimg/b.png\t  \n',
        encoding="utf-8",
    )
    entries = read("tsv", manifest)
    assert samples_of(entries) == {"a": Sample("a", 'He said "no, never"', tmp_path / "img" / "a.png", group="img")}
    assert reasons_of(entries) == {
        "lines.tsv row 3 (3 columns)": "row without 2 columns",
        "missing": "image file missing",
        "b": "empty transcription",
    }


def test_csv_with_header_finds_columns_by_name(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    line_image(tmp_path / "x1.png")
    line_image(tmp_path / "x2.png")
    manifest = tmp_path / "lines.csv"
    manifest.write_text(
        "Transcription,writer,image,id,document,width,height\n"
        '"Well, ""quoted"" text",w7,x1.png,line-1,doc-1,320,40\n'
        "plain,w8,x2.png,line-2,doc-2,,\n"
        "short,row\n",
        encoding="utf-8",
    )
    entries = read("tsv", manifest)
    samples = samples_of(entries)
    assert samples["line-1"].text == 'Well, "quoted" text'
    first = samples["line-1"]
    assert (first.writer, first.group, first.size_hint) == ("w7", "doc-1", (320, 40))
    assert samples["line-2"].size_hint is None
    assert reasons_of(entries) == {"lines.csv row 4 (2 columns)": "row without 7 columns"}


def test_csv_without_header(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    line_image(tmp_path / "x1.png")
    manifest = tmp_path / "lines.csv"
    manifest.write_text('x1.png,"a, b"\n', encoding="utf-8")
    assert samples_of(read("tsv", manifest))["x1"].text == "a, b"


ODD_TEXTS = ['He said "hi"', '"quoted line"', "tab\there", "back\\slash \\t \\n \\\\ C:\\new", "line\nbreak\r"]
"""Texts a csv writer would quote, or that hold what ends a TSV cell or looks like an escape."""


def test_tsv_written_by_predict_reads_back_exactly(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    from linescribe.cli.predict import TSV_HEADER, _rows
    from linescribe.data.readers._common import normalize_text
    from linescribe.inference import Prediction

    names = ("a.png", 'b "q".png', "c\\new.png", "e f.png", "g.png")  # file names as predict writes them: never unescaped
    images = [line_image(tmp_path / "lines" / name) for name in names]
    predictions = [Prediction(str(image), text, 0.5) for image, text in zip(images, ODD_TEXTS)]
    manifest = tmp_path / "predicted.tsv"
    manifest.write_text(TSV_HEADER + _rows(predictions, "tsv", single=False), encoding="utf-8")
    entries = read("tsv", manifest)
    assert [(entry.path, entry.text) for entry in entries if isinstance(entry, Sample)] == [
        (image, normalize_text(text)) for image, text in zip(images, ODD_TEXTS)  # every reader normalizes whitespace
    ]


def test_eval_report_reads_back_exactly(tmp_path: Path) -> None:
    from linescribe.cli.eval import report_tsv
    from linescribe.data.readers.manifest import _rows, _unescape
    from linescribe.evaluation import LineResult

    results = [LineResult(f"id{number}", text, text[::-1], 3, 0.25) for number, text in enumerate(ODD_TEXTS)]
    report = tmp_path / "report.tsv"
    report.write_text(report_tsv(results), encoding="utf-8")
    rows = [cells for _, cells in _rows(report)]
    assert rows[0] == ["id", "reference", "prediction", "distance", "confidence"]
    texts = [[cells[0], _unescape(cells[1]), _unescape(cells[2]), *cells[3:]] for cells in rows[1:]]  # the text columns, as read
    assert texts == [[result.id, result.reference, result.prediction, "3", "0.2500"] for result in results]


def test_tsv_written_by_hand_keeps_quotes_and_lone_backslashes(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    line_image(tmp_path / "a.png")
    manifest = tmp_path / "lines.tsv"
    manifest.write_text('a.png\t"Oui", dit-il \\ \\d ""x""\n', encoding="utf-8")
    assert samples_of(read("tsv", manifest))["a"].text == '"Oui", dit-il \\ \\d ""x""'
    line_image(tmp_path / "scans\\new.png")  # a path is never unescaped (\n in a Windows-style name)
    manifest.write_text("scans\\new.png\tone line\n", encoding="utf-8")
    assert samples_of(read("tsv", manifest))["scans\\new"].path == tmp_path / "scans\\new.png"


def test_manifest_ids_without_id_column_stay_stems_unless_they_collide(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    """Stems, as before, where they are unique; ``a/001.png`` and ``b/001.png`` get their paths,
    so that --val-ids and eval reports tell them apart, and keep them in whichever split is read."""
    from linescribe.data.splits import filter_by_ids

    rows = {"a/001.png": "train", "b/001.png": "val", "c/002.png": "train", "d/003.png": "train", "d/003.jpg": "val"}
    for name in rows:
        line_image(tmp_path / name)
    manifest = tmp_path / "manifest.tsv"
    lines = "".join(f"{split}\t{name}\tline {name}\n" for name, split in rows.items())
    manifest.write_text("split\tfile\ttext\n" + lines, encoding="utf-8")
    samples = samples_of(read("tsv", manifest))
    assert {id: sample.path.relative_to(tmp_path).as_posix() for id, sample in samples.items()} == {
        "a/001": "a/001.png", "b/001": "b/001.png", "002": "c/002.png", "d/003.png": "d/003.png", "d/003.jpg": "d/003.jpg",
    }
    assert [sample.id for sample in filter_by_ids(list(samples.values()), {"a/001"})] == ["a/001"]
    val = samples_of(read_entries(DatasetSpec("tsv", manifest, split="val")))
    assert list(val) == ["b/001", "d/003.jpg"]


def test_manifest_without_group_column_guesses_pages_from_file_names_in_one_folder(
    tmp_path: Path, line_image: Callable[..., Path]
) -> None:
    """All images in one folder: the folder tells no page from another, so the file name does,
    as in a gt folder; images in several folders keep their folder as their document."""
    from linescribe.data.splits import split_by_group

    rows = [f"lines/page{page}_r1l{line}.png\tline {page} {line}" for page in range(5) for line in range(4)]
    for row in rows:
        line_image(tmp_path / row.partition("\t")[0])
    manifest = tmp_path / "lines.tsv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    samples = list(samples_of(read("tsv", manifest)).values())
    assert sorted({sample.group for sample in samples}) == [f"lines/page{page}" for page in range(5)]
    train, val, _ = split_by_group(samples, val_fraction=0.2, seed=0)
    assert len(val) == 4 and len(train) == 16

    for name in ("p1/page0_r1l0.png", "p1/page1_r1l0.png", "p2/page0_r1l0.png"):
        line_image(tmp_path / name)
    manifest.write_text("p1/page0_r1l0.png\ta\np1/page1_r1l0.png\tb\np2/page0_r1l0.png\tc\n", encoding="utf-8")
    assert [sample.group for sample in read("tsv", manifest) if isinstance(sample, Sample)] == ["p1", "p1", "p2"]


def test_tsv_cells_quoted_by_the_csv_module_are_unquoted(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    texts = ['He said "hi"', "tab\there", '"quoted line"', "plain"]
    for number in range(len(texts)):
        line_image(tmp_path / f"{number}.png")
    manifest = tmp_path / "pandas.tsv"
    for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_ALL):
        with manifest.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", quoting=quoting)
            writer.writerows([["path", "text"], *([f"{number}.png", text] for number, text in enumerate(texts))])
        samples = samples_of(read("tsv", manifest))
        assert [sample.text for sample in samples.values()] == ['He said "hi"', "tab here", '"quoted line"', "plain"]


def test_plain_tsv_transcriptions_of_quotations_keep_their_quotes(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    """Quotes the csv module would not have written are text: a quoted line, an opening quote,
    a quoted word followed by more text."""
    texts = ['"Ami, je pleure avec toi."', '"Qu\'est-ce, dit-il,', '"side" of Zoology', 'x ""y"" z', '""']
    for number in range(len(texts)):
        line_image(tmp_path / f"{number}.png")
    manifest = tmp_path / "plain.tsv"
    manifest.write_text("".join(f"{number}.png\t{text}\n" for number, text in enumerate(texts)), encoding="utf-8")
    assert [sample.text for sample in samples_of(read("tsv", manifest)).values()] == texts


def test_a_header_with_unknown_column_names_is_refused_with_the_accepted_ones(
    tmp_path: Path, line_image: Callable[..., Path]
) -> None:
    from linescribe.data.readers.manifest import image_paths

    line_image(tmp_path / "lines" / "a.png")
    manifest = tmp_path / "lines.tsv"
    manifest.write_text("image_name\tcaption\tWriter Id\nlines/a.png\tone\tw1\n", encoding="utf-8")
    accepted = r"an image column \(path, file, image, filename, file_name, image_path, filepath, image_file\)"
    with pytest.raises(DatasetError) as refused:
        read("tsv", manifest)
    assert str(refused.value) == (
        f"{manifest}: the first row looks like a header (image_name, caption, Writer Id), but a header needs "
        "an image column (path, file, image, filename, file_name, image_path, filepath, image_file) and a text column "
        "(text, transcription, transcript, label, gt, ground_truth)"
    )
    with pytest.raises(DatasetError, match=rf"needs {accepted}$"):
        image_paths(manifest)
    manifest.write_text("path\tcaption\nlines/a.png\tone\n", encoding="utf-8")  # a text column of another name
    with pytest.raises(DatasetError, match="header needs an image column"):
        read("tsv", manifest)
    manifest = tmp_path / "lines.csv"
    manifest.write_text("image,id\nlines/a.png,l1\n", encoding="utf-8")  # no text column: once read as data
    with pytest.raises(DatasetError, match="header needs an image column"):
        read("tsv", manifest)


def test_a_first_row_that_is_data_is_not_taken_for_a_header(tmp_path: Path) -> None:
    """Image paths, or a file that exists, make the first row data, even when its image is missing."""
    (tmp_path / "scan").write_bytes(b"")  # readers check only that an image exists
    manifest = tmp_path / "lines.tsv"
    manifest.write_text("missing.png\tone\nscan\tline\n", encoding="utf-8")
    entries = read("tsv", manifest)
    assert reasons_of(entries) == {"missing": "image file missing"} and list(samples_of(entries)) == ["scan"]
    manifest.write_text("scan\tline\n", encoding="utf-8")
    assert samples_of(read("tsv", manifest))["scan"].text == "line"


def test_tsv_reads_real_hooker_manifest(shared_data: Path) -> None:
    folder = shared_data / "lines" / "hooker"
    samples = samples_of(read("tsv", folder / "manifest.tsv"))
    assert len(samples) == 6908
    sample = samples["JDH_2_16_145_001_r2l10"]
    assert sample.path == folder / "test" / "JDH_2_16_145_001_r2l10.webp"
    assert (sample.group, sample.size_hint) == ("JDH_2_16_145", (807, 96))
    assert sample.text == (folder / "test" / "JDH_2_16_145_001_r2l10.gt.txt").read_text(encoding="utf-8").strip()


# --- PAGE and ALTO: generated pages ------------------------------------------------------------


def assert_line_crop(sample: Sample) -> np.ndarray:
    """The crop through images.load_sample_image: non-empty, wider than high, with ink and paper."""
    crop = load_sample_image(sample)
    height, width = crop.shape
    assert height >= 8 and width > 2 * height
    assert crop.min() < 100 < crop.max(), "a line crop holds dark ink on light paper"
    return crop


def test_page_reads_lines_polygons_and_texts(page_folder: Path, page_lines: dict) -> None:
    entries = read("page", page_folder / "letter_001.xml")
    samples = samples_of(entries)
    assert list(samples) == ["letter_001/l1"]
    line = samples["letter_001/l1"]
    assert line.text == "Dear Sir,"  # the TextEquiv with the lowest index
    assert (line.path, line.group) == (page_folder / "letter_001.png", "letter_001")
    left, top, right, bottom = page_lines["l1"]
    assert line.polygon == ((left, top), (right, top), (right, bottom), (left, bottom))
    assert line.size_hint == (right - left, bottom - top)
    assert reasons_of(entries) == {
        "letter_001/l2": "empty transcription",
        "letter_001/l3": "polygon has fewer than 3 points",
    }
    crop = assert_line_crop(line)
    assert crop.shape[1] >= right - left


def test_page_lines_off_the_page_are_measured_on_it_or_skipped(page_folder: Path) -> None:
    """The page is 900x330: a line running off its edges is cropped (and its size hinted) as the
    part on the page; one wholly outside it would fail at every load, so it is skipped here."""
    xml = page_folder / "letter_001.xml"
    lines = {
        "wide": "-100,30 1000,30 1000,100 -100,100",  # off both sides
        "low": "40,300 500,300 500,400 40,400",  # half below the bottom
        "outside": "1000,400 1200,400 1200,500 1000,500",
        "above": "40,-90 500,-90 500,-20 40,-20",
    }
    text = "<TextEquiv><Unicode>ink</Unicode></TextEquiv>"
    coords = "".join(f'<TextLine id="{id}"><Coords points="{points}"/>{text}</TextLine>' for id, points in lines.items())
    xml.write_text(xml.read_text(encoding="utf-8").replace("</TextRegion>", coords + "</TextRegion>"), encoding="utf-8")
    entries = read("page", xml)
    samples = samples_of(entries)
    assert (samples["letter_001/wide"].size_hint, samples["letter_001/low"].size_hint) == ((900, 70), (460, 30))
    for id in ("letter_001/wide", "letter_001/low"):
        width, height = samples[id].size_hint
        crop = load_sample_image(samples[id])
        assert crop.shape[1] >= width and abs(crop.shape[0] - height) <= 12  # the crop's margin
    reasons = reasons_of(entries)
    assert reasons["letter_001/outside"] == reasons["letter_001/above"] == "polygon outside the page"
    loaded = load_dataset(f"page:{xml}")
    assert "2 polygon outside the page (e.g. letter_001/outside)" in loaded.summary()


def test_page_finds_the_image_by_bare_name_or_stem_or_skips_every_line(page_folder: Path) -> None:
    xml = page_folder / "letter_001.xml"
    original = xml.read_text(encoding="utf-8")
    shutil.copy(page_folder / "letter_001.png", page_folder / "scan.png")
    xml.write_text(original.replace("letter_001.png", r"C:\export\scan.png"), encoding="utf-8")
    assert samples_of(read("page", xml))["letter_001/l1"].path == page_folder / "scan.png"
    xml.write_text(original.replace("letter_001.png", "renamed.tif"), encoding="utf-8")
    assert samples_of(read("page", xml))["letter_001/l1"].path == page_folder / "letter_001.png"
    (page_folder / "letter_001.png").unlink()
    assert set(reasons_of(read("page", xml)).values()) == {"image file missing"}


def test_page_finds_the_image_of_transkribus_and_ocrd_exports_in_the_folders_above(page_folder: Path) -> None:
    """Transkribus: ``doc/page/x.xml`` beside ``doc/x.png``; OCR-D: ``imageFilename`` relative to
    the workspace, above the ``OCR-D-GT-SEG-LINE/`` folder of the XML."""
    transkribus = page_folder / "page"
    transkribus.mkdir()
    (page_folder / "letter_001.xml").rename(transkribus / "letter_001.xml")
    assert samples_of(read("page", transkribus))["letter_001/l1"].path == page_folder / "letter_001.png"

    ocrd = page_folder / "OCR-D-GT-SEG-LINE"
    ocrd.mkdir()
    (page_folder / "OCR-D-IMG").mkdir()
    (page_folder / "letter_001.png").rename(page_folder / "OCR-D-IMG" / "scan_0001.png")
    xml = (transkribus / "letter_001.xml").read_text(encoding="utf-8").replace("letter_001.png", "OCR-D-IMG/scan_0001.png")
    (ocrd / "letter_001.xml").write_text(xml, encoding="utf-8")
    assert samples_of(read("page", ocrd))["letter_001/l1"].path == page_folder / "OCR-D-IMG" / "scan_0001.png"


def test_a_page_file_read_from_inside_its_folder_finds_the_image_above(page_folder: Path, monkeypatch) -> None:
    """Read as ``page:x.xml`` from inside Transkribus's ``page/`` folder, ``Path("x.xml").parent.parent``
    is still ``.``: every line was dropped as "image file missing"."""
    transkribus = page_folder / "page"
    transkribus.mkdir()
    (page_folder / "letter_001.xml").rename(transkribus / "letter_001.xml")
    monkeypatch.chdir(transkribus)
    assert samples_of(read("page", Path("letter_001.xml")))["letter_001/l1"].path.resolve() == page_folder / "letter_001.png"


def test_an_exports_other_xml_files_are_left_out_and_the_format_is_sniffed_from_all(page_folder: Path) -> None:
    """A Transkribus export's mets.xml and metadata.xml were skipped entries (refused under
    --strict), and with its alto/ copy the format guessed depended on the number of pages."""
    (page_folder / "mets.xml").write_text("<mets><fileSec/></mets>", encoding="utf-8")
    (page_folder / "metadata.xml").write_text("<trpDocMetadata/>", encoding="utf-8")
    entries = read("page", page_folder)
    assert list(samples_of(entries)) and not [id for id in reasons_of(entries) if id.endswith(".xml")]
    (page_folder / "zz_alto").mkdir()  # listed after every page: the first five files held no ALTO
    (page_folder / "zz_alto" / "letter_001.xml").write_text("<alto/>", encoding="utf-8")
    with pytest.raises(DatasetError, match="looks like several formats .page, alto."):
        parse_spec(str(page_folder))
    lone = page_folder / "mets.xml"
    assert reasons_of(read("page", lone)) == {str(lone): "root element is mets, not PcGts"}  # named alone: an error


def test_a_weight_and_a_split_in_either_order(tmp_path: Path) -> None:
    manifest = tmp_path / "m.tsv"
    manifest.write_text("file\ttext\tsplit\na.png\tx\tval\n", encoding="utf-8")
    for spec in (f"tsv:{manifest}#val@2", f"tsv:{manifest}@2#val"):
        assert parse_spec(spec) == DatasetSpec("tsv", manifest, 2.0, "val")


def test_a_manifest_written_on_windows_finds_its_images(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    from linescribe.data.readers.manifest import image_paths

    (tmp_path / "lines").mkdir()
    line_image(tmp_path / "lines" / "b.png")
    manifest = tmp_path / "m.tsv"
    manifest.write_text("lines\\b.png\tsome text\n", encoding="utf-8")
    assert [sample.path for sample in samples_of(read("tsv", manifest)).values()] == [tmp_path / "lines" / "b.png"]
    assert image_paths(manifest) == [str(tmp_path / "lines" / "b.png")]


def test_page_folder_skips_broken_files_and_never_expands_entities(page_folder: Path) -> None:
    shutil.copytree(FIXTURES / "page" / "invalid", page_folder / "invalid")
    assert READERS["page"].sniff(page_folder)
    started = time.perf_counter()
    entries = read("page", page_folder)
    assert time.perf_counter() - started < 5
    assert list(samples_of(entries)) == ["letter_001/l1"]
    reasons = {Path(id).name: reason for id, reason in reasons_of(entries).items() if id.endswith(".xml")}
    assert reasons["malformed.xml"].startswith("malformed XML: mismatched tag")
    assert reasons["billion_laughs.xml"] == "unsafe XML refused (EntitiesForbidden)"
    assert reasons["xxe.xml"] == "unsafe XML refused (EntitiesForbidden)"


def test_page_line_text_from_plaintext_or_its_words_when_it_has_no_unicode(page_folder: Path, page_lines: dict) -> None:
    """OCR-D ground truth may hold a line's text only in its Words (or Glyphs), or as PlainText:
    the line's text is then theirs, joined as PAGE's consistency rule joins them; a line with a
    word without text is no label at all rather than a label missing a word."""

    def line(line_id: str, box: str, inner: str) -> str:
        left, top, right, bottom = page_lines[box]
        points = f"{left},{top} {right},{top} {right},{bottom} {left},{bottom}"
        return f'<TextLine id="{line_id}"><Coords points="{points}"/>{inner}</TextLine>'

    def word(*content: str) -> str:
        return f"<Word><Coords points='0,0 1,0 1,1'/>{''.join(content)}</Word>"

    def equiv(text: str, element: str = "Unicode") -> str:
        return f"<TextEquiv><{element}>{text}</{element}></TextEquiv>"

    glyphs = "".join(f"<Glyph>{equiv(char)}</Glyph>" for char in "Sir,")
    lines = [
        line("plain", "l1", equiv("Dear Sir,", "PlainText")),
        line("words", "l2", word(equiv("Dear")) + word(glyphs) + "<TextEquiv><Unicode/></TextEquiv>"),
        line("gap", "l3", word(equiv("Dear")) + word()),
    ]
    xml = page_folder / "letter_001.xml"
    head, region, rest = xml.read_text(encoding="utf-8").partition('<TextRegion id="r1">')
    tail = rest.partition("</TextRegion>")[2]
    xml.write_text(f"{head}{region}{''.join(lines)}</TextRegion>{tail}", encoding="utf-8")
    entries = read("page", xml)
    assert {id: sample.text for id, sample in samples_of(entries).items()} == {
        "letter_001/plain": "Dear Sir,",
        "letter_001/words": "Dear Sir,",
    }
    assert reasons_of(entries) == {"letter_001/gap": "empty transcription"}


def test_alto_reads_polygons_boxes_and_joined_strings(alto_folder: Path, page_lines: dict) -> None:
    entries = read("alto", alto_folder)
    samples = samples_of(entries)
    assert list(samples) == ["will_0001-0/eSc_line_1", "will_0001-0/eSc_line_2", "will_0001-0/eSc_line_3"]
    assert samples["will_0001-0/eSc_line_1"].text == "Ceci est mon testament"
    assert samples["will_0001-0/eSc_line_2"].text == "Je lègue"
    left, top, right, bottom = page_lines["l3"]  # box only: the polygon is the HPOS/VPOS box
    assert samples["will_0001-0/eSc_line_3"].polygon == ((left, top), (right, top), (right, bottom), (left, bottom))
    assert {sample.group for sample in samples.values()} == {"will_0001-0"}
    assert reasons_of(entries) == {
        "will_0001-0/eSc_line_4": "empty transcription",
        "will_0001-0/eSc_line_5": "degenerate polygon (no area)",
    }
    for sample in samples.values():
        assert_line_crop(sample)


def test_alto_file_in_units_other_than_pixels_is_skipped_not_its_folder(alto_folder: Path) -> None:
    """Like a malformed file, it costs its own lines, not the valid pages' beside it."""
    shutil.copy(FIXTURES / "alto" / "invalid" / "mm10_units.xml", alto_folder / "mm10_units.xml")
    entries = read("alto", alto_folder)
    assert len(samples_of(entries)) == 3  # will_0001-0's lines, as read alone
    reason = reasons_of(entries)[str(alto_folder / "mm10_units.xml")]
    assert reason.startswith("MeasurementUnit is 'mm10'; only pixel coordinates can be cropped")
    assert read("alto", alto_folder / "mm10_units.xml") == [Skipped(str(alto_folder / "mm10_units.xml"), reason)]


@pytest.mark.parametrize("format", ["page", "alto"])
def test_xml_pages_of_the_same_name_in_two_folders_are_two_pages(
    page_folder: Path, alto_folder: Path, tmp_path: Path, format: str
) -> None:
    """Ids and groups are the file's path below the folder read: ``docA/a.xml`` and ``docB/a.xml``
    once both gave ``a/l1``, so a split list or a validation id took both pages' lines."""
    source = page_folder if format == "page" else alto_folder
    root = tmp_path / "export"
    for folder in ("docA", "docB"):
        shutil.copytree(source, root / folder)
    shutil.copytree(source, root, dirs_exist_ok=True)  # at the root: the stem, as before
    samples = samples_of(read(format, root))
    stem = next(source.glob("*.xml")).stem
    pages = {sample.group for sample in samples.values()}
    assert pages == {f"docA/{stem}", f"docB/{stem}", stem}
    assert all(sample.id.startswith(f"{sample.group}/") for sample in samples.values())
    assert len(samples) == 3 * len(samples_of(read(format, source)))


@pytest.mark.parametrize("format", ["page", "alto"])
def test_xml_folder_follows_symlinked_folders_once(page_folder: Path, alto_folder: Path, tmp_path: Path, format: str) -> None:
    source = page_folder if format == "page" else alto_folder
    root = tmp_path / "export"
    root.mkdir()
    (root / "linked").symlink_to(source, target_is_directory=True)
    (root / "linked_again").symlink_to(source, target_is_directory=True)  # the same real folder: read once
    (root / "loop").symlink_to(root, target_is_directory=True)
    stem = next(source.glob("*.xml")).stem
    assert READERS[format].sniff(root)
    assert {sample.group for sample in samples_of(read(format, root)).values()} == {f"linked/{stem}"}


def test_an_unreadable_page_image_is_one_reason_in_the_summary(page_folder: Path) -> None:
    """Skips are counted by the reason before its first ": "; the image's path there made one
    reason per page, and hid the reason itself."""
    from linescribe.data.dataset import load_dataset

    shutil.copytree(page_folder, page_folder / "second")
    for image in (page_folder / "letter_001.png", page_folder / "second" / "letter_001.png"):
        image.write_bytes(b"not an image")
    dataset = load_dataset(f"page:{page_folder}")
    assert dataset.skipped == {"unreadable page image": 6}  # every line of both pages, under one reason
    assert dataset.summary().endswith("skipped 6: 6 unreadable page image (e.g. letter_001/l1)")
    reason = reasons_of(read("page", page_folder))["letter_001/l1"]
    assert reason.startswith("unreadable page image: letter_001.png (") and str(page_folder) not in reason


def test_alto_broken_files_are_skipped_by_name(tmp_path: Path) -> None:
    for name in ("malformed.xml", "billion_laughs.xml"):
        shutil.copy(FIXTURES / "alto" / "invalid" / name, tmp_path / name)
    reasons = {Path(id).name: reason for id, reason in reasons_of(read("alto", tmp_path)).items()}
    assert reasons["malformed.xml"].startswith("malformed XML")
    assert reasons["billion_laughs.xml"] == "unsafe XML refused (EntitiesForbidden)"


# --- PAGE and ALTO: the real sample pages ------------------------------------------------------

REAL_PAGES = [
    ("page", "hooker", "JDH_2_16_33_003", 18),
    ("page", "hooker", "JDH_2_16_80_004", 15),
    ("alto", "copiste", "imp_wikitexte_0169", 22),
    ("alto", "copiste", "wikitexte_0006", 19),
    ("alto", "poilus", "TestamentsDePoilus_will_AD78_0038-0", 11),
    ("alto", "poilus", "TestamentsDePoilus_will_AN_0199-0", 14),
]


@pytest.mark.parametrize(("format", "dataset", "page", "count"), REAL_PAGES)
def test_real_sample_pages(shared_data: Path, format: str, dataset: str, page: str, count: int) -> None:
    xml = shared_data / "pages-sample" / dataset / f"{page}.xml"
    assert parse_spec(str(xml)).format == format
    entries = read(format, xml)
    assert len(entries) == count and all(isinstance(entry, Sample) for entry in entries)
    texts = {sample.id.partition("/")[2]: sample.text for sample in samples_of(entries).values()}
    assert texts == manifest_texts(shared_data, dataset, page)  # the published crops' labels
    assert_line_crop(entries[0])


# --- dataset specs -----------------------------------------------------------------------------


def test_parse_spec_detects_each_format(iam_root: Path, gt_root: Path, page_folder: Path, alto_folder: Path) -> None:
    manifest = gt_root / "lines.tsv"
    manifest.write_text("train/JDH_2_16_144_001_r1l1.png\tThe Lords\n", encoding="utf-8")
    cases = {
        str(iam_root): "iam",
        str(gt_root): "gt",
        str(manifest): "tsv",
        str(page_folder): "page",
        str(page_folder / "letter_001.xml"): "page",
        str(alto_folder): "alto",
    }
    for spec, format in cases.items():
        assert parse_spec(spec) == DatasetSpec(format, Path(spec), 1.0)


def test_parse_spec_format_prefix_and_weight(gt_root: Path, tmp_path: Path) -> None:
    assert parse_spec(f"gt:{gt_root}") == DatasetSpec("gt", gt_root, 1.0)
    assert parse_spec(f"{gt_root}@2.5") == DatasetSpec("gt", gt_root, 2.5)
    assert parse_spec(f"tsv:{gt_root}@0.5") == DatasetSpec("tsv", gt_root, 0.5)  # a named format is not sniffed
    odd = tmp_path / "v2:data@home"
    shutil.copytree(gt_root, odd)
    assert parse_spec(str(odd)) == DatasetSpec("gt", odd, 1.0)  # ':' and '@' belong to the path
    assert parse_spec(f"{odd}@3") == DatasetSpec("gt", odd, 3.0)


def test_parse_spec_takes_a_weight_only_when_the_whole_path_does_not_exist(gt_root: Path, tmp_path: Path) -> None:
    scans = tmp_path / "scans@2"
    shutil.copytree(gt_root, scans)
    assert parse_spec(str(scans)) == DatasetSpec("gt", scans, 1.0)
    assert parse_spec(f"gt:{scans}") == DatasetSpec("gt", scans, 1.0)
    assert parse_spec(f"{scans}@0.5") == DatasetSpec("gt", scans, 0.5)
    shutil.copytree(gt_root, tmp_path / "scans")  # the longer name, which exists, wins
    assert parse_spec(str(scans)) == DatasetSpec("gt", scans, 1.0)
    assert parse_spec(str(tmp_path / "scans@3")) == DatasetSpec("gt", tmp_path / "scans", 3.0)


def test_parse_spec_reads_a_relative_path_from_its_base(gt_root: Path, tmp_path: Path) -> None:
    """A resumed run reads the specs it was started with from that folder, wherever it runs now."""
    shutil.copytree(gt_root, tmp_path / "scans@2")
    assert parse_spec("scans@2", base=tmp_path) == DatasetSpec("gt", tmp_path / "scans@2", 1.0)
    assert parse_spec("gt:scans@2@0.5", base=tmp_path) == DatasetSpec("gt", tmp_path / "scans@2", 0.5)
    assert parse_spec(f"{gt_root}@3", base=tmp_path) == DatasetSpec("gt", gt_root, 3.0)  # absolute: as it is
    with pytest.raises(DatasetError, match="no such file"):
        parse_spec("scans@2", base=tmp_path / "elsewhere")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{tmp}/nowhere", r"/nowhere: no such file or folder"),
        ("page:{tmp}/nowhere.xml", r"/nowhere.xml: no such file or folder"),
        ("pagexml:{tmp}/x.xml", r"unknown format 'pagexml' \(valid: iam, gt, tsv, page, alto\)"),
        ("{tmp}@0", r"weight after @ must be a positive number"),
        ("gt:", r"no dataset path given"),
        ("{tmp}", r"not a dataset in a known format \(tried iam, gt, tsv, page, alto\); name one as FORMAT:PATH"),
    ],
)
def test_parse_spec_errors(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        parse_spec(spec.format(tmp=tmp_path))


def test_parse_spec_refuses_to_guess_between_formats(gt_root: Path, page_folder: Path) -> None:
    shutil.copytree(page_folder, gt_root / "pages")
    with pytest.raises(DatasetError, match=r"looks like several formats \(gt, page\)"):
        parse_spec(str(gt_root))


def test_read_entries_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset format 'kraken'"):
        read_entries(DatasetSpec("kraken", tmp_path))


def test_alto_line_text_keeps_spaces_and_end_of_line_hyphens() -> None:
    """``HYP`` is the hyphen written at the end of a line: ink in the image, so in the label."""
    from xml.etree.ElementTree import fromstring

    from linescribe.data.readers.alto import _line_text

    line = fromstring(
        '<TextLine xmlns="http://www.loc.gov/standards/alto/ns-v4#"><String CONTENT="the"/><SP/>'
        '<String CONTENT="conti"/><HYP CONTENT="-"/></TextLine>'
    )
    assert _line_text(line) == "the conti-"
    without_sp = fromstring("<TextLine><String CONTENT='Je'/><String CONTENT='lègue'/></TextLine>")
    assert _line_text(without_sp) == "Je lègue"


def test_a_manifest_can_be_narrowed_to_one_split(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``manifest.tsv#train`` takes the rows of one split, as the manifests of ../shared/data
    list train, val and test together; read whole, such a manifest is said in a warning."""
    from PIL import Image

    from linescribe.data.dataset import load_datasets

    rows = ["split\tfile\ttext"]
    for split, count in (("train", 3), ("val", 2), ("test", 1)):
        for number in range(count):
            Image.new("L", (40, 10), 255).save(tmp_path / f"{split}{number}.png")
            rows.append(f"{split}\t{split}{number}.png\t{split} line {number}")
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")

    assert parse_spec(f"{manifest}#val@2").split == "val" and parse_spec(f"{manifest}#val@2").weight == 2
    (val,) = load_datasets([f"{manifest}#val"])
    assert [sample.text for sample in val.samples] == ["val line 0", "val line 1"]
    with caplog.at_level("WARNING"):
        (whole,) = load_datasets([str(manifest)])
    assert len(whole.samples) == 6 and "reading every split it lists (test, train, val); add #train" in caplog.text
    with pytest.raises(DatasetError, match=r"no row has split 'dev' \(its splits: test, train, val\)"):
        load_datasets([f"{manifest}#dev"])
    folder = tmp_path / "gt"
    folder.mkdir()
    Image.new("L", (40, 10), 255).save(folder / "a.png")
    (folder / "a.gt.txt").write_text("a line", encoding="utf-8")
    with pytest.raises(DatasetError, match="only a tsv manifest with a 'split' column can be narrowed"):
        load_datasets([f"{folder}#train"])


def test_a_hugging_face_metadata_csv_reads_by_its_column_names(tmp_path):
    """``file_name,text`` (an image folder's metadata.csv) and ``image_path\ttranscript`` are headers."""
    from PIL import Image

    from linescribe.data.readers import manifest

    Image.new("L", (60, 20), 255).save(tmp_path / "a.png")
    (tmp_path / "metadata.csv").write_text("file_name,text\na.png,hello\n", encoding="utf-8")
    (tmp_path / "lines.tsv").write_text("image_path\ttranscript\na.png\tworld\n", encoding="utf-8")
    for name, text in [("metadata.csv", "hello"), ("lines.tsv", "world")]:
        samples = [entry for entry in manifest.read(tmp_path / name) if isinstance(entry, Sample)]
        assert [sample.text for sample in samples] == [text]


def test_a_trailing_tab_after_the_header_or_a_row_is_no_column(tmp_path):
    """A spreadsheet's export ends rows with a tab: every row was 'row without 3 columns'."""
    from PIL import Image

    from linescribe.data.readers import manifest

    Image.new("L", (60, 20), 255).save(tmp_path / "a.png")
    Image.new("L", (60, 20), 255).save(tmp_path / "b.png")
    (tmp_path / "lines.tsv").write_text("path\ttext\t\na.png\tone\nb.png\ttwo\t\n", encoding="utf-8")
    samples = [entry for entry in manifest.read(tmp_path / "lines.tsv") if isinstance(entry, Sample)]
    assert [sample.text for sample in samples] == ["one", "two"]
