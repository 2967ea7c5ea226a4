"""Dataset formats by name, and the ``[format:]path[@weight]`` strings that pick one.

Every reader turns its format into the same ``Sample`` (or ``Skipped``, with the reason), so the
rest of linescribe never sees a format. A new format is one module with ``sniff`` and ``read``
plus one line in ``READERS``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from linescribe.data.readers import alto, gt_folder, iam, manifest, pagexml
from linescribe.data.sample import Sample, Skipped
from linescribe.errors import DatasetError


@dataclass(frozen=True)
class Reader:
    name: str
    sniff: Callable[[Path], bool]
    """True if the path looks like this format; cheap, never reads the whole dataset."""
    read: Callable[[Path], Iterator[Sample | Skipped]]
    """The entries in a deterministic order; never decodes an image."""


READERS: dict[str, Reader] = {
    reader.name: reader
    for reader in (
        Reader("iam", iam.sniff, iam.read),
        Reader("gt", gt_folder.sniff, gt_folder.read),
        Reader("tsv", manifest.sniff, manifest.read),
        Reader("page", pagexml.sniff, pagexml.read),
        Reader("alto", alto.sniff, alto.read),
    )
}


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset to read, and how often its lines are drawn relative to the other datasets."""

    format: str
    path: Path
    weight: float = 1.0
    split: str | None = None
    """``manifest.tsv#train``: only the rows of a manifest whose ``split`` column says ``train``."""


_WEIGHT = re.compile(r"@([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$")
_FORMAT_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_SPLIT = re.compile(r"[A-Za-z0-9_.-]+")


def _valid_names() -> str:
    return ", ".join(READERS)


def _detect(path: Path) -> str:
    """The one format whose sniffer accepts the path; guessing between several would hide a mistake."""
    matches = [name for name, reader in READERS.items() if reader.sniff(path)]
    if not matches:
        raise DatasetError(
            f"{path}: not a dataset in a known format (tried {_valid_names()}); name one as FORMAT:PATH"
        )
    if len(matches) > 1:
        raise DatasetError(f"{path}: looks like several formats ({', '.join(matches)}); name one as FORMAT:PATH")
    return matches[0]


def _located(name: str, base: Path | None) -> Path:
    path = Path(name).expanduser()
    return path if base is None or path.is_absolute() else base / path


def _names_a_path(text: str, base: Path | None) -> bool:
    """Whether ``[FORMAT:]PATH`` names a path that exists: then a ``@N`` or ``#SPLIT`` at its end
    belongs to the name (a folder ``scans@2``), not to the spec."""
    prefix, colon, rest = text.partition(":")
    return _located(rest if colon and prefix in READERS else text, base).exists()


def _weight_off(text: str, spec: str, base: Path | None) -> tuple[str, float | None]:
    """``text`` without a ``@WEIGHT`` at its end, and the weight (None when it has none, or when
    the whole text names a path that exists)."""
    match = _WEIGHT.search(text)
    if not match or _names_a_path(text, base):
        return text, None
    weight = float(match[1])
    if not (weight > 0 and math.isfinite(weight)):
        raise DatasetError(f"{spec}: the weight after @ must be a positive number")
    return text[: match.start()], weight


def parse_spec(spec: str, base: Path | None = None) -> DatasetSpec:
    """``path``, ``format:path``, ``path@2.5`` or ``format:path@0.5`` as a DatasetSpec; a
    manifest path may end in ``#SPLIT`` (``manifest.tsv#train``, before or after a weight) to
    take the rows of one split.

    A ``prefix:`` is a format only when it is a known reader name, so other paths may hold ``:``;
    ``@N`` and ``#SPLIT`` are taken as such only when the whole path does not exist.
    Without a format, the path is sniffed; a missing path or an unknown format is a DatasetError.
    A relative path is read from ``base`` when given (a resumed run's own folder), else from here.
    """
    text, weight = _weight_off(spec.strip(), spec, base)
    split = None
    before, hash_sign, name = text.rpartition("#")
    if hash_sign and _SPLIT.fullmatch(name) and not _names_a_path(text, base):
        text, split = before, name
        if weight is None:  # PATH@WEIGHT#SPLIT as well as PATH#SPLIT@WEIGHT
            text, weight = _weight_off(text, spec, base)
    weight = 1.0 if weight is None else weight
    prefix, colon, rest = text.partition(":")
    fmt = prefix if colon and prefix in READERS else None
    path = _located(rest if fmt else text, base)
    if not text or (fmt and not rest):
        raise DatasetError(f"{spec!r}: no dataset path given; expected [FORMAT:]PATH[@WEIGHT]")
    if not path.exists():
        if colon and not fmt and _FORMAT_LIKE.fullmatch(prefix):
            raise DatasetError(f"{spec}: unknown format {prefix!r} (valid: {_valid_names()}) and no such path")
        raise DatasetError(f"{path}: no such file or folder")
    return DatasetSpec(fmt or _detect(path), path, weight, split)


def read_entries(spec: DatasetSpec) -> Iterator[Sample | Skipped]:
    """The dataset's samples, and the entries skipped with their reasons, in a deterministic order."""
    reader = READERS.get(spec.format)
    if reader is None:
        raise DatasetError(f"{spec.path}: unknown dataset format {spec.format!r} (valid: {_valid_names()})")
    if spec.split is not None:
        if spec.format != "tsv":
            raise DatasetError(f"{spec.path}#{spec.split}: only a tsv manifest with a 'split' column can be narrowed to a split")
        return manifest.read(spec.path, split=spec.split)
    return reader.read(spec.path)


__all__ = ["READERS", "DatasetSpec", "Reader", "parse_spec", "read_entries"]
