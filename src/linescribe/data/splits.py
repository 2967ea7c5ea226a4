"""Train/validation/test splits that never let a page or a writer leak across them.

A recognizer validated on other lines of its training pages (or of its training writers) looks far
better than it is; so splits are made of whole groups, and of whole writers when writers are known.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from linescribe.data.sample import Sample
from linescribe.errors import DatasetError

log = logging.getLogger(__name__)


_COMMENT = re.compile(r"(?:^|\s)#.*")
"""A comment: ``#`` at the start of a line or after a space; inside an id (``folio#02``, as
``adapt`` writes the lines it holds out) it is part of the id."""


def read_split_file(path: Path) -> set[str]:
    """The line or group ids listed one per line; ``#`` starts a comment."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: split file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read split file ({error})") from None
    ids = {_COMMENT.sub("", line).strip() for line in text.splitlines()} - {""}
    if not ids:
        raise DatasetError(f"{path}: split file lists no ids")
    return ids


def _named(sample: Sample, ids: set[str]) -> set[str]:
    """The ids that select the sample: its line id, its group, or a leading part of a path-like
    id (``page`` of ``page/line``)."""
    parts = sample.id.split("/")
    return ids & {sample.id, sample.group, *("/".join(parts[:end]) for end in range(1, len(parts)))}


def filter_by_ids(samples: Sequence[Sample], ids: set[str]) -> list[Sample]:
    """The samples a split file selects: IAM form lists name groups, the Aachen lists name lines."""
    return [sample for sample in samples if _named(sample, ids)]


def warn_unmatched_ids(source: Path | str, ids: set[str], samples: Iterable[Sample]) -> None:
    """Say how many of a list's ids select none of the lines read (a typo, another id style),
    whose lines would otherwise be missing without a word."""
    used: set[str] = set()
    for sample in samples:
        used |= _named(sample, ids)
    if unused := sorted(ids - used):
        log.warning("%s: %d of its %d ids match no line, page or form (such as %r)", source, len(unused), len(ids), unused[0])


TRAIN, VAL, TEST = 0, 1, 2


def _group(sample: Sample) -> str:
    """A sample without a group is a group of its own."""
    return sample.group or f"\0{sample.id}"


def _units(samples: Sequence[Sample], join_writers: bool) -> dict[str, str]:
    """Group -> unit, where a unit is a group, or with join_writers all groups linked by a writer.

    Union-find over groups and writers, so a page with two writers ties both writers' pages
    together; each unit is named by its smallest key, whatever the order of the samples.
    """
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for sample in samples:
        group = find(f"group:{_group(sample)}")
        if join_writers and sample.writer:
            writer = find(f"writer:{sample.writer}")
            parent[max(group, writer)] = min(group, writer)
    return {key.removeprefix("group:"): find(key) for key in list(parent) if key.startswith("group:")}


OVERSHOOT = 0.2
"""A unit joins a split only if the split then holds at most this share more lines than its
target, unless the split is still empty: dealt whole, one writer of 900 lines out of 1000 took
validation's 10 % as 90 %."""

FAR = 0.5
"""A split whose lines are off its target by more than this share of it is too far from the
fraction asked: writer units that far off fall back to groups, and it is said in a warning."""

SPLIT_NAMES = {VAL: "validation", TEST: "test"}


def _sizes(samples: Sequence[Sample], unit_of: dict[str, str]) -> dict[str, int]:
    """Lines per unit."""
    sizes: dict[str, int] = {}
    for sample in samples:
        unit = unit_of[_group(sample)]
        sizes[unit] = sizes.get(unit, 0) + 1
    return sizes


def _deal(sizes: dict[str, int], targets: dict[int, float], seed: int) -> dict[str, int]:
    """Unit -> split: test, then val, take units in the seeded order that do not overfill them
    (``OVERSHOOT``) until they reach their target; a split still empty takes the smallest unit
    left. Train keeps at least one unit, and val one when it is asked for and test is dealt."""
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    split_of = dict.fromkeys(order, TRAIN)
    for split in (TEST, VAL):
        if not targets[split]:
            continue
        reserved = 1 + (split == TEST and targets[VAL] > 0)  # units the splits dealt after it need
        free = [unit for unit in order if split_of[unit] == TRAIN]
        lines = taken = 0
        for unit in free:
            if lines >= targets[split] or len(free) - taken <= reserved:
                break
            if lines + sizes[unit] <= (1 + OVERSHOOT) * targets[split]:
                split_of[unit] = split
                lines += sizes[unit]
                taken += 1
        if not taken and len(free) > reserved:
            split_of[min(free, key=sizes.__getitem__)] = split  # the first of equal ones in the seeded order
    return split_of


def _dealt(
    samples: Sequence[Sample], join_writers: bool, targets: dict[int, float], seed: int
) -> tuple[dict[str, str], dict[str, int], dict[str, int]]:
    """Group -> unit, unit -> lines and unit -> split, with units of ``_units``."""
    unit_of = _units(samples, join_writers)
    sizes = _sizes(samples, unit_of)
    return unit_of, sizes, _deal(sizes, targets, seed)


def _lines(sizes: dict[str, int], split_of: dict[str, int]) -> dict[int, int]:
    """Lines per split."""
    lines = {TRAIN: 0, VAL: 0, TEST: 0}
    for unit, split in split_of.items():
        lines[split] += sizes[unit]
    return lines


def _distance(lines: dict[int, int], targets: dict[int, float]) -> float:
    """Lines that val and test hold beyond or short of their targets."""
    return sum(abs(lines[split] - targets[split]) for split in (VAL, TEST))


def _misses(lines: dict[int, int], targets: dict[int, float]) -> list[int]:
    """The splits (val, test) whose lines are too far from their targets (``FAR``)."""
    return [split for split in (VAL, TEST) if abs(lines[split] - targets[split]) > FAR * targets[split]]


def split_by_group(
    samples: Sequence[Sample], val_fraction: float, seed: int, test_fraction: float = 0.0
) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """(train, val, test) of whole groups (and whole writers), about the given fractions of lines.

    Units are shuffled with the seed and dealt to test, then val (``_deal``); train always keeps at
    least one unit, and val gets one whenever val_fraction > 0 and there are two units or more.
    Where whole writers cannot come near the fractions (one writer wrote everything, or most of
    it), the split falls back to whole groups; a fraction still far from the one asked is said in
    a warning. Same samples and seed, same split, whatever the input order.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"split fractions val={val_fraction}, test={test_fraction} must be >= 0 and sum below 1")
    targets = {VAL: val_fraction * len(samples), TEST: test_fraction * len(samples)}
    unit_of, sizes, split_of = _dealt(samples, True, targets, seed)
    lines = _lines(sizes, split_of)
    if _misses(lines, targets):
        group_unit_of, group_sizes, group_split_of = _dealt(samples, False, targets, seed)
        group_lines = _lines(group_sizes, group_split_of)
        emptied = [split for split in (VAL, TEST) if targets[split] and not lines[split] and group_lines[split]]
        if emptied or _distance(group_lines, targets) < _distance(lines, targets):  # a held-out split, even too big, beats none
            if len({sample.writer for sample in samples if sample.writer}) > 1:  # one writer: never possible
                log.warning(
                    "the writers are too few or too unequal to hold out %s of the lines by writer: "
                    "the split keeps groups whole, but the splits share writers",
                    f"{val_fraction + test_fraction:.0%}",
                )
            unit_of, sizes, split_of, lines = group_unit_of, group_sizes, group_split_of, group_lines
    if len(sizes) > 1:  # a single unit cannot be split at all, which the caller says
        for split in _misses(lines, targets):
            log.warning(
                "%s holds %d of the %d lines (%s), not the %s asked: the groups are too few or too "
                "unequal to come closer",
                SPLIT_NAMES[split], lines[split], len(samples), f"{lines[split] / len(samples):.0%}",
                f"{targets[split] / len(samples):.0%}",
            )
    splits: tuple[list[Sample], list[Sample], list[Sample]] = ([], [], [])
    for sample in samples:
        splits[split_of[unit_of[_group(sample)]]].append(sample)
    return splits
