"""Split files and group/writer-disjoint splits."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from linescribe.data.sample import Sample
from linescribe.data.splits import filter_by_ids, read_split_file, split_by_group, warn_unmatched_ids
from linescribe.errors import DatasetError


def make_samples(rows: Sequence[tuple[str, str, str]]) -> list[Sample]:
    """Samples from (id, group, writer)."""
    return [Sample(id, "text", Path(f"{id}.png"), group=group, writer=writer) for id, group, writer in rows]


def iam_like(forms: int, lines_per_form: int, forms_per_writer: int = 0) -> list[Sample]:
    """Lines ``fNN-LL`` of forms ``fNN``; with forms_per_writer, consecutive forms share a writer."""
    return make_samples(
        [
            (f"f{form:02d}-{line:02d}", f"f{form:02d}", f"w{form // forms_per_writer}" if forms_per_writer else "")
            for form in range(forms)
            for line in range(lines_per_form)
        ]
    )


def ids(samples: Sequence[Sample]) -> list[str]:
    return [sample.id for sample in samples]


# --- split files -------------------------------------------------------------------------------


def test_read_split_file_ignores_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "val.lst"
    path.write_text("# IAM validation forms\n\na01-000u\n  a01-000x-05  \nb02-010 # trailing\n", encoding="utf-8")
    assert read_split_file(path) == {"a01-000u", "a01-000x-05", "b02-010"}


def test_missing_split_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nope\.lst: split file not found"):
        read_split_file(tmp_path / "nope.lst")


def test_split_file_without_ids_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.lst"
    path.write_text("# nothing yet\n\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"empty\.lst: split file lists no ids"):
        read_split_file(path)


def test_filter_by_line_ids_form_ids_and_page_prefix() -> None:
    samples = make_samples(
        [
            ("a01-000u-00", "a01-000u", "000"),
            ("a01-000u-01", "a01-000u", "000"),
            ("a01-000x-00", "a01-000x", "001"),
            ("page_7/r1l1", "", ""),
            ("page_8/r1l1", "", ""),
        ]
    )
    assert ids(filter_by_ids(samples, {"a01-000x-00"})) == ["a01-000x-00"]  # Aachen line list
    assert ids(filter_by_ids(samples, {"a01-000u"})) == ["a01-000u-00", "a01-000u-01"]  # IAM form list
    assert ids(filter_by_ids(samples, {"page_7"})) == ["page_7/r1l1"]  # leading part of a page/line id
    assert filter_by_ids(samples, {"a01", "000"}) == []  # neither a prefix of ids nor a writer match


# --- split_by_group ----------------------------------------------------------------------------


def test_split_keeps_groups_whole_and_is_about_the_fractions() -> None:
    samples = iam_like(forms=40, lines_per_form=5)
    train, val, test = split_by_group(samples, val_fraction=0.1, seed=1, test_fraction=0.2)
    assert sorted(ids(train + val + test)) == sorted(ids(samples))
    groups = [{sample.group for sample in part} for part in (train, val, test)]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert (len(val), len(test)) == (20, 40)


def test_split_is_writer_disjoint() -> None:
    samples = iam_like(forms=30, lines_per_form=4, forms_per_writer=3)
    train, val, test = split_by_group(samples, val_fraction=0.2, seed=3, test_fraction=0.2)
    writers = [{sample.writer for sample in part} for part in (train, val, test)]
    assert all(writers)
    assert not (writers[0] & writers[1] or writers[0] & writers[2] or writers[1] & writers[2])


def test_a_page_with_two_writers_ties_their_pages_together() -> None:
    samples = make_samples(
        [("p1-1", "p1", "anna"), ("p1-2", "p1", "ben"), ("p2-1", "p2", "ben"), ("p3-1", "p3", "anna")]
        + [(f"q{n}-1", f"q{n}", f"w{n}") for n in range(6)]
    )
    for seed in range(10):
        parts = split_by_group(samples, val_fraction=0.3, seed=seed)
        linked = [part for part in parts if {"p1", "p2", "p3"} & {sample.group for sample in part}]
        assert len(linked) == 1 and {"p1", "p2", "p3"} <= {sample.group for sample in linked[0]}


def test_split_is_deterministic_and_ignores_input_order() -> None:
    samples = iam_like(forms=25, lines_per_form=3, forms_per_writer=2)
    first = split_by_group(samples, val_fraction=0.2, seed=7, test_fraction=0.1)
    shuffled = list(samples)
    random.Random(0).shuffle(shuffled)
    again = split_by_group(shuffled, val_fraction=0.2, seed=7, test_fraction=0.1)
    assert [sorted(ids(part)) for part in first] == [sorted(ids(part)) for part in again]
    others = [split_by_group(samples, val_fraction=0.2, seed=seed)[1] for seed in range(5)]
    assert len({tuple(ids(part)) for part in others}) > 1, "the seed must matter"


def test_small_val_fraction_still_gets_a_group_and_train_keeps_one() -> None:
    train, val, test = split_by_group(iam_like(forms=2, lines_per_form=50), val_fraction=0.01, seed=0)
    assert ({s.group for s in train}, {s.group for s in val}, test) in (({"f00"}, {"f01"}, []), ({"f01"}, {"f00"}, []))
    train, val, test = split_by_group(iam_like(forms=3, lines_per_form=2), val_fraction=0.5, seed=0, test_fraction=0.45)
    assert train and val and test


def test_one_writer_falls_back_to_groups() -> None:
    samples = make_samples([(f"p{n}-1", f"p{n}", "hooker") for n in range(10)])
    train, val, _ = split_by_group(samples, val_fraction=0.2, seed=0)
    assert len(val) == 2 and len(train) == 8


def test_no_validation_when_not_asked() -> None:
    samples = iam_like(forms=5, lines_per_form=2)
    assert split_by_group(samples, val_fraction=0.0, seed=0) == (samples, [], [])


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.0), (1.0, 0.0), (0.5, 0.5)])
def test_impossible_fractions_are_refused(val: float, test: float) -> None:
    with pytest.raises(ValueError, match="split fractions"):
        split_by_group(iam_like(forms=4, lines_per_form=1), val_fraction=val, seed=0, test_fraction=test)


def test_a_large_writer_never_takes_validation_well_past_its_fraction() -> None:
    """Writer A wrote 900 of 1000 lines: dealt whole in the seeded order, A took val as 90 %."""
    samples = make_samples([(f"a{page}-{line}", f"a{page}", "A") for page in range(90) for line in range(10)])
    samples += make_samples([(f"b{page}-{line}", f"b{page}", "B") for page in range(10) for line in range(10)])
    for seed in range(8):
        train, val, _ = split_by_group(samples, val_fraction=0.1, seed=seed)
        assert (len(train), len(val)) == (900, 100)
        assert {sample.writer for sample in val} == {"B"}


def test_no_split_ends_well_past_its_target_unless_it_holds_a_single_unit() -> None:
    rng = random.Random(0)
    samples = make_samples(
        [(f"g{group}-{line}", f"g{group}", "") for group in range(30) for line in range(rng.choice((1, 5, 40, 200)))]
    )
    for seed in range(20):
        train, val, test = split_by_group(samples, val_fraction=0.1, seed=seed, test_fraction=0.15)
        for part, fraction in ((val, 0.1), (test, 0.15)):
            groups = {sample.group for sample in part}
            assert len(part) <= 1.2 * fraction * len(samples) or len(groups) == 1
        assert train and val and test


def test_an_empty_split_takes_the_smallest_group() -> None:
    samples = make_samples([(f"a-{n}", "a", "") for n in range(9000)] + [(f"b-{n}", "b", "") for n in range(1000)])
    samples += make_samples([(f"c-{n}", "c", "") for n in range(500)])
    for seed in range(4):
        train, val, _ = split_by_group(samples, val_fraction=0.01, seed=seed)
        assert ({sample.group for sample in val}, len(train)) == ({"c"}, 10000)


def test_too_coarse_writers_fall_back_to_groups_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    samples = iam_like(forms=100, lines_per_form=10, forms_per_writer=50)  # two writers of 500 lines
    with caplog.at_level("WARNING"):
        train, val, _ = split_by_group(samples, val_fraction=0.1, seed=0)
    assert len(val) == 100 and len(train) == 900
    assert {sample.writer for sample in val} <= {sample.writer for sample in train}  # shared, as warned
    assert any("the splits share writers" in record.getMessage() for record in caplog.records)


def test_writers_chained_into_one_unit_by_shared_pages_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """A postscript in another hand ties three writers into one unit: the warning counted units, not writers."""
    pages = {"p1": ["w1"] * 9 + ["w2"], "p2": ["w2"] * 9 + ["w3"], "p3": ["w1"] * 10, "p4": ["w2"] * 10, "p5": ["w3"] * 20}
    samples = make_samples([(f"{page}/l{n}", page, writer) for page, writers in pages.items() for n, writer in enumerate(writers)])
    with caplog.at_level("WARNING"):
        train, val, _ = split_by_group(samples, val_fraction=0.2, seed=0)
    assert val and {sample.writer for sample in val} <= {sample.writer for sample in train}
    assert any("the splits share writers" in record.getMessage() for record in caplog.records)


def test_a_hash_inside_an_id_is_part_of_it(tmp_path: Path) -> None:
    """``adapt`` holds out ``folio#02`` through a split file, which cut it to ``folio``: the line was trained on."""
    listed = tmp_path / "held-out.txt"
    listed.write_text("# held out\nfolio#02\na01-000u  # a form\n", encoding="utf-8")
    assert read_split_file(listed) == {"folio#02", "a01-000u"}


def test_ids_that_select_nothing_are_counted_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A typo or another id style in a split list lost its lines without a word."""
    samples = iam_like(forms=3, lines_per_form=2)
    ids = {samples[0].group, samples[2].id, "A01-002U", "f99"}
    with caplog.at_level("WARNING"):
        warn_unmatched_ids("val.lst", ids, samples)
    assert [record.getMessage() for record in caplog.records] == ["val.lst: 2 of its 4 ids match no line, page or form (such as 'A01-002U')"]
    assert [sample.id for sample in filter_by_ids(samples, ids)] == [samples[0].id, samples[1].id, samples[2].id]


def test_a_fraction_far_from_the_one_asked_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    samples = make_samples([(f"a-{n}", "a", "") for n in range(104)] + [(f"b-{n}", "b", "") for n in range(98)])
    with caplog.at_level("WARNING"):
        _, val, _ = split_by_group(samples, val_fraction=0.1, seed=0)
    assert len(val) == 98
    assert [record.getMessage() for record in caplog.records] == [
        "validation holds 98 of the 202 lines (49%), not the 10% asked: the groups are too few or too unequal to come closer"
    ]


def test_a_split_near_its_fraction_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        split_by_group(iam_like(forms=30, lines_per_form=4, forms_per_writer=3), val_fraction=0.2, seed=3, test_fraction=0.2)
    assert not caplog.records


def test_one_writer_of_every_page_still_gets_validation_pages():
    """One writer (a forms.txt or writer column naming the same hand everywhere) is one writer
    unit: the group fallback must still hold pages out, even a page bigger than the target."""
    samples = [
        Sample(id=f"p{page}_{line}", text="x", path=Path(f"p{page}_{line}.png"), group=f"p{page}", writer="me")
        for page in range(5) for line in range(20)
    ]
    train, val, _ = split_by_group(samples, 0.1, seed=0)
    assert len(val) == 20 and len(train) == 80
