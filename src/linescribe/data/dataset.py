"""Collecting the samples of one or more dataset specs, with every skipped entry counted.

Readers yield samples and skips; here they are gathered, lines the alphabet cannot write are
set aside, and one summary line per dataset tells the user what was left out and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from linescribe.alphabet import Alphabet
from linescribe.data.readers import DatasetSpec, parse_spec, read_entries
from linescribe.data.sample import Sample, Skipped
from linescribe.data.text import DropLine, apply_rules
from linescribe.errors import DatasetError, printable


@dataclass
class LoadedDataset:
    """Samples of one spec, and the reasons (with counts) for every entry left out."""

    spec: DatasetSpec
    samples: list[Sample]
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    """One entry id per skip reason, so the user can look at a case."""
    unknown_chars: Counter[str] = field(default_factory=Counter)
    unwritable: Counter[str] = field(default_factory=Counter)
    """Lines kept although the model cannot read them right, by reason: validation scores them
    as ``eval`` does, so that its CER is the one ``eval`` reports."""

    def skip(self, entry_id: str, reason: str) -> None:
        """Count a left-out entry under its reason's kind ("malformed XML: line 3" -> "malformed XML")."""
        kind = reason.split(": ", 1)[0]
        self.skipped[kind] += 1
        self.examples.setdefault(kind, printable(entry_id))

    def summary(self, lines_read: int | None = None) -> str:
        """One line: the lines kept and the entries skipped, by reason. ``lines_read``: the kept
        lines are a selection (eval --ids) of that many; the skips, which a list of line or form
        ids cannot place (a skipped entry has no group), are then said to count the whole dataset."""
        text = f"{self.spec.path}: {len(self.samples)} lines"
        if lines_read is not None:
            text += f" selected of {lines_read} read"
        if self.skipped:
            reasons = ", ".join(
                f"{count} {reason} (e.g. {self.examples[reason]})" for reason, count in self.skipped.most_common()
            )
            scope = "" if lines_read is None else " in the whole dataset"
            text += f", skipped {sum(self.skipped.values())}{scope}: {reasons}"
        if self.unwritable:
            reasons = ", ".join(f"{count} {reason}" for reason, count in self.unwritable.most_common())
            text += f"; scored although the model cannot write them: {reasons}"
        if self.unknown_chars:
            text += f"; unknown characters: {''.join(sorted(self.unknown_chars))!r}"
        return text


def load_dataset(spec: str | DatasetSpec, strict: bool = False, text_rules: Sequence[str] = ()) -> LoadedDataset:
    """Read one dataset, applying the transcription rules to every label; ``strict`` turns the
    first bad entry into a DatasetError."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    loaded = LoadedDataset(spec, [])
    for entry in read_entries(spec):
        if isinstance(entry, Sample) and text_rules:
            try:
                text = apply_rules(entry.text, text_rules)
                entry = replace(entry, text=text) if text else Skipped(entry.id, "empty transcription after text rules")
            except DropLine as reason:
                entry = Skipped(entry.id, str(reason))
        if isinstance(entry, Skipped):
            if strict:
                raise DatasetError(f"{spec.path}: entry {printable(entry.id)}: {printable(entry.reason)} (--strict)")
            loaded.skip(entry.id, entry.reason)
        else:
            loaded.samples.append(entry)
    return loaded


def load_datasets(
    specs: Sequence[str | DatasetSpec], strict: bool = False, text_rules: Sequence[str] = ()
) -> list[LoadedDataset]:
    return [load_dataset(spec, strict, text_rules) for spec in specs]


def drop_unwritable(dataset: LoadedDataset, alphabet: Alphabet, strict: bool = False, keep: bool = False) -> None:
    """Set aside lines with characters outside the alphabet, counting them per character;
    ``keep``: count them but keep them (validation scores them)."""
    kept = []
    for sample in dataset.samples:
        unknown = alphabet.unknown_chars(sample.text)
        if not unknown:
            kept.append(sample)
            continue
        if keep:
            dataset.unknown_chars.update(unknown)
            dataset.unwritable["with characters outside the alphabet"] += 1
            kept.append(sample)
            continue
        if strict:
            raise DatasetError(
                f"{dataset.spec.path}: line {printable(sample.id)}: characters {''.join(sorted(unknown))!r} "
                "are outside the alphabet (--strict)"
            )
        dataset.unknown_chars.update(unknown)
        dataset.skip(sample.id, "characters outside the alphabet")
    dataset.samples = kept
