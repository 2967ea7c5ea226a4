"""The IAM Handwriting Database as distributed: ``lines.txt`` plus the ``lines/`` image tree.

Line ``a01-000u-00`` lives in ``lines/a01/a01-000u/a01-000u-00.png``, or in ``a01/a01-000u/``
at the root, where ``lines.tgz`` (which holds no ``lines/`` folder) was unpacked into it; its form
``a01-000u`` is the group, and ``forms.txt`` (when present) names the form's writer, so splits can
be writer-disjoint.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from html.entities import html5
from pathlib import Path

from linescribe.data.readers._common import IMAGE_MISSING, is_file, line_entry
from linescribe.data.sample import Sample, Skipped
from linescribe.errors import DatasetError

_FIELDS = 8
"""id, status, graylevel, components, x, y, w, h; the transcription follows (and may hold spaces)."""

_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
"""A well-formed character reference (``&quot;``, ``&#39;``), as lines.txt writes quotes; an ``&``
without the ``;`` is text (``&not`` stays, where html.unescape alone would give ``¬``)."""

log = logging.getLogger(__name__)


def _find(root: Path, name: str) -> Path | None:
    """The metadata file at the root or under ``ascii/``, where the distribution puts it."""
    for candidate in (root / name, root / "ascii" / name):
        if candidate.is_file():
            return candidate
    return None


def _records(path: Path) -> Iterator[list[str]]:
    """The fields of every line that is neither blank nor a ``#`` comment; a byte-order mark
    (Windows editors write one) is not part of the first id."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                yield line.split()


def _writers(root: Path) -> dict[str, str]:
    """Form id -> writer id from ``forms.txt`` (``a01-000u 000 2 prt 7 5 52 36``), or {} without it."""
    forms = _find(root, "forms.txt")
    if forms is None:
        return {}
    return {fields[0]: fields[1] for fields in _records(forms) if len(fields) >= 2}


def _character(entity: re.Match[str]) -> str:
    """What one well-formed entity stands for; an unknown name stays as written."""
    if entity[0].startswith("&#"):
        return html.unescape(entity[0])
    return html5.get(entity[0][1:], entity[0])  # keyed "quot;"


def _size(width: str, height: str) -> tuple[int, int] | None:
    """The bounding box size from lines.txt, unless it is absent (-1) or not a number."""
    try:
        size = int(width), int(height)
    except ValueError:
        return None
    return size if min(size) > 0 else None


def _image(root: Path, line_id: str, form: str) -> Path | None:
    """The line's image in ``lines/<a01>/<form>/``, else in ``<a01>/<form>/`` at the root."""
    for folder in (root / "lines", root):
        path = folder / line_id.split("-", 1)[0] / form / f"{line_id}.png"
        if is_file(path):
            return path
    return None


def sniff(path: Path) -> bool:
    """An IAM root is a folder with lines.txt (or ascii/lines.txt)."""
    return path.is_dir() and _find(path, "lines.txt") is not None


def read(root: Path) -> Iterator[Sample | Skipped]:
    """Every line of lines.txt, ``ok`` and ``err`` alike: ``err`` flags a doubtful word segmentation,
    which does not matter for line recognition."""
    lines_txt = _find(root, "lines.txt")
    if lines_txt is None:
        raise DatasetError(f"{root}: no lines.txt or ascii/lines.txt; is this the IAM root folder?")
    writers = _writers(root)
    missing = found = 0
    for fields in _records(lines_txt):
        line_id = fields[0]
        if len(fields) < _FIELDS:
            yield Skipped(line_id, f"malformed line in {lines_txt.name} (fewer than {_FIELDS} fields)")
            continue
        form = line_id.rsplit("-", 1)[0]
        path = _image(root, line_id, form)
        if path is None:
            missing += 1
            yield Skipped(line_id, IMAGE_MISSING)
            continue
        found += 1
        text = _ENTITY.sub(_character, " ".join(fields[_FIELDS:]).replace("|", " "))
        yield line_entry(
            line_id, text, path, group=form, writer=writers.get(form, ""), size_hint=_size(fields[6], fields[7])
        )
    if missing and not found:  # the summary alone would count the lines, not say where they were looked for
        log.warning(
            "%s: none of the %d line images of %s was found: IAM's are looked for as "
            "lines/a01/a01-000u/a01-000u-00.png or a01/a01-000u/a01-000u-00.png below it",
            root, missing, lines_txt.name,
        )
