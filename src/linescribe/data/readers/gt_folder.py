"""A folder tree of line images, each with its transcription in a ``<stem>.gt.txt`` sidecar.

This is the layout of kraken, OCR-D and ``/work/shared/data/lines``. The tree is listed once with
``os.walk`` (no stat per file), so 100k lines cost only the reading of their labels.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from linescribe.data.images import IMAGE_SUFFIXES
from linescribe.data.readers._common import IMAGE_MISSING, line_entry
from linescribe.data.sample import Sample, Skipped
from linescribe.errors import DatasetError

LABEL_SUFFIX = ".gt.txt"
NO_LABEL = "no .gt.txt"
MULTI_LINE = "multi-line transcription"


def _walk(root: Path) -> Iterator[tuple[str, list[str]]]:
    """(folder relative to root in posix form, "" for the root; its file names), sorted."""
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        relative = Path(folder).relative_to(root).as_posix()
        yield ("" if relative == "." else relative), sorted(names)


def _group(key: str, root: Path) -> str:
    """The stem before its last ``_`` (``JDH_2_16_144_001_r1l10`` -> the page), else the folder."""
    folder, _, stem = key.rpartition("/")
    prefix = stem.rpartition("_")[0]
    return prefix or folder or root.name


def _read_label(path: Path, key: str) -> str | Skipped:
    """The sidecar's single line of text, or why it cannot be a label."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return Skipped(key, f"{LABEL_SUFFIX} is not UTF-8")
    except OSError as error:
        return Skipped(key, f"unreadable {LABEL_SUFFIX}: {error.strerror}")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return Skipped(key, MULTI_LINE)
    return lines[0] if lines else ""


def sniff(path: Path) -> bool:
    """A folder with at least one .gt.txt somewhere below it."""
    if not path.is_dir():
        return False
    return any(name.endswith(LABEL_SUFFIX) for _, names in _walk(path) for name in names)


def read(root: Path) -> Iterator[Sample | Skipped]:
    """Every image/label pair under root, in sorted order; id = relative path without suffix."""
    if not root.is_dir():
        raise DatasetError(f"{root}: a gt dataset is a folder of line images with .gt.txt files")
    images: dict[str, list[str]] = defaultdict(list)
    labels: set[str] = set()
    for folder, names in _walk(root):
        prefix = f"{folder}/" if folder else ""
        for name in names:
            if name.endswith(LABEL_SUFFIX):
                labels.add(prefix + name[: -len(LABEL_SUFFIX)])
            else:
                stem, suffix = os.path.splitext(name)
                if suffix.lower() in IMAGE_SUFFIXES:
                    images[prefix + stem].append(name)
    for key in sorted(images.keys() | labels):
        names = images.get(key, [])
        if key not in labels:
            yield Skipped(key, NO_LABEL)
        elif not names:
            yield Skipped(key, IMAGE_MISSING)
        elif len(names) > 1:
            yield Skipped(key, f"several images share one {LABEL_SUFFIX}")
        else:
            label = _read_label(root / f"{key}{LABEL_SUFFIX}", key)
            if isinstance(label, Skipped):
                yield label
                continue
            image = root / key.rpartition("/")[0] / names[0]
            yield line_entry(key, label, image, group=_group(key, root))
