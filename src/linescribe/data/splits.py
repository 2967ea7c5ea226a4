"""Train/validation/test splits that never let a page or a writer leak across them.

A recognizer validated on other lines of its training pages (or of its training writers) looks far
better than it is; so splits are made of whole groups, and of whole writers when writers are known.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from linescribe.data.sample import Sample
from linescribe.errors import DatasetError


def read_split_file(path: Path) -> set[str]:
    """The line or group ids listed one per line; ``#`` starts a comment."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: split file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read split file ({error})") from None
    ids = {line.partition("#")[0].strip() for line in text.splitlines()} - {""}
    if not ids:
        raise DatasetError(f"{path}: split file lists no ids")
    return ids


def _matches(sample: Sample, ids: set[str]) -> bool:
    """By line id, by group, or by a leading part of a path-like id (``page`` of ``page/line``)."""
    if sample.id in ids or sample.group in ids:
        return True
    parts = sample.id.split("/")
    return any("/".join(parts[:end]) in ids for end in range(1, len(parts)))


def filter_by_ids(samples: Sequence[Sample], ids: set[str]) -> list[Sample]:
    """The samples a split file selects: IAM form lists name groups, the Aachen lists name lines."""
    return [sample for sample in samples if _matches(sample, ids)]


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


def split_by_group(
    samples: Sequence[Sample], val_fraction: float, seed: int, test_fraction: float = 0.0
) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """(train, val, test) of whole groups (and whole writers), about the given fractions of lines.

    Units are shuffled with the seed and dealt to test, then val, until each holds its fraction of
    the lines; train always keeps at least one unit, and val gets one whenever val_fraction > 0 and
    there are two units or more. When one writer wrote everything, writer-disjoint is impossible and
    the split falls back to whole groups. Same samples and seed, same split, whatever the input order.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"split fractions val={val_fraction}, test={test_fraction} must be >= 0 and sum below 1")
    unit_of = _units(samples, join_writers=True)
    if len(set(unit_of.values())) < 2:
        unit_of = _units(samples, join_writers=False)
    sizes: dict[str, int] = {}
    for sample in samples:
        unit = unit_of[_group(sample)]
        sizes[unit] = sizes.get(unit, 0) + 1
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    targets = {VAL: val_fraction * len(samples), TEST: test_fraction * len(samples)}
    lines = {TRAIN: 0, VAL: 0, TEST: 0}
    split_of: dict[str, int] = {}
    for position, unit in enumerate(order):
        units_left = len(order) - position
        val_needs_one = val_fraction > 0 and lines[VAL] == 0
        if lines[TEST] < targets[TEST] and units_left > 1 + val_needs_one:
            split = TEST
        elif lines[VAL] < targets[VAL] and units_left > 1:
            split = VAL
        else:
            split = TRAIN
        split_of[unit] = split
        lines[split] += sizes[unit]
    splits: tuple[list[Sample], list[Sample], list[Sample]] = ([], [], [])
    for sample in samples:
        splits[split_of[unit_of[_group(sample)]]].append(sample)
    return splits
