"""A gt folder's lines grouped by their page, whatever tool exported them, and OCRopus's image
variants paired with their labels."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from linescribe.data.readers import DatasetSpec, read_entries
from linescribe.data.sample import Sample, Skipped


def _write_lines(root: Path, stems: list[str], line_image: Callable[..., Path], suffix: str = ".png") -> None:
    for stem in stems:
        line_image(root / f"{stem}{suffix}")
        (root / f"{stem}.gt.txt").write_text("a line", encoding="utf-8")


@pytest.mark.parametrize(
    "stem, page",
    [
        ("JDH_2_16_144_001_r1l10", "JDH_2_16_144_001"),  # Transkribus region/line
        ("JDH_2_16_65_001_tr_1_tl_3", "JDH_2_16_65_001"),  # Transkribus text region, text line
        ("JDH_2_16_25_007_l_535", "JDH_2_16_25_007"),
        ("IMG_20190620_121408_eSc_line_6d78f9b1", "IMG_20190620_121408"),  # eScriptorium
        ("IMG_20190620_122633_line_1561474374453_829", "IMG_20190620_122633"),
        ("page_7_line_12", "page_7"),  # kraken
        ("folio12_a", "folio12"),  # anything else: before the last "_"
    ],
)
def test_a_line_is_grouped_with_its_page(tmp_path: Path, line_image: Callable[..., Path], stem: str, page: str) -> None:
    _write_lines(tmp_path, [stem], line_image)
    [sample] = list(read_entries(DatasetSpec("gt", tmp_path)))
    assert sample.group == page


def test_real_line_sets_group_as_their_manifests_say(shared_data: Path) -> None:
    """Every line of the shared sets lands in the page its manifest names: an automatic
    validation split cannot put one page on both sides (hooker's ``tr_1_tl_3`` lines once did)."""
    for name in ("hooker", "timeus"):
        root = shared_data / "lines" / name
        with (root / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
            pages = {row["file"].rsplit(".", 1)[0]: row["page"] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)}
        samples = [entry for entry in read_entries(DatasetSpec("gt", root / "train")) if isinstance(entry, Sample)]
        wrong = [sample.id for sample in samples if sample.group != pages[f"train/{sample.id}"]]
        assert len(samples) > 1000 and not wrong, f"{name}: {len(wrong)} lines grouped apart from their page, e.g. {wrong[:2]}"


def test_ocropus_image_variants_pair_with_their_label(tmp_path: Path, line_image: Callable[..., Path]) -> None:
    _write_lines(tmp_path, ["010001"], line_image, suffix=".bin.png")
    _write_lines(tmp_path, ["010002"], line_image, suffix=".bin.png")
    line_image(tmp_path / "010002.nrm.png")  # both variants: the normalised grey one is read
    _write_lines(tmp_path, ["010003"], line_image)
    line_image(tmp_path / "010003.jpg")  # two plain images: which one is meant is not known
    _write_lines(tmp_path, ["scan.bin"], line_image)  # a label of that very name keeps its image
    entries = {entry.id: entry for entry in read_entries(DatasetSpec("gt", tmp_path))}
    assert entries["scan.bin"].path.name == "scan.bin.png"
    assert entries["010001"].path.name == "010001.bin.png"
    assert entries["010002"].path.name == "010002.nrm.png"
    assert isinstance(entries["010003"], Skipped) and entries["010003"].reason == "several images share one .gt.txt"
