"""A folder tree of line images, each with its transcription in a ``<stem>.gt.txt`` sidecar.

This is the layout of kraken, OCR-D and ``/work/shared/data/lines``. The tree is listed once with
``os.walk`` (no stat per file), so 100k lines cost only the reading of their labels.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from linescribe.data.images import IMAGE_SUFFIXES
from linescribe.data.readers._common import IMAGE_MISSING, line_entry, page_group, walk
from linescribe.data.sample import Sample, Skipped
from linescribe.errors import DatasetError

LABEL_SUFFIX = ".gt.txt"
NO_LABEL = "no .gt.txt"
MULTI_LINE = "multi-line transcription"
OCROPUS_VARIANTS = (".nrm", ".bin")
"""OCRopus / kraken ketos name a line's normalised and binarised images ``010001.nrm.png`` and
``010001.bin.png`` beside ``010001.gt.txt``; with several, the plainest one is read (plain image
first, then normalised grey, then binarised)."""
SPLIT_FOLDERS = ("train", "val", "test")
"""Subfolders that, at the top of the folder read, say it holds several splits."""

log = logging.getLogger(__name__)


def _walk(root: Path) -> Iterator[tuple[str, list[str]]]:
    """(folder relative to root in posix form, "" for the root; its file names), sorted;
    symlinked folders included, each real folder once."""
    for folder, subfolders, names in walk(root):
        subfolders.sort()
        relative = Path(folder).relative_to(root).as_posix()
        yield ("" if relative == "." else relative), sorted(names)


def _plainest(names: list[str]) -> str | None:
    """Of one line's images, the one without an OCRopus variant suffix, else the normalised, else
    the binarised one; None when two are equally plain (``a.png`` and ``a.jpg``): ambiguous."""
    def rank(name: str) -> int:
        variant = os.path.splitext(os.path.splitext(name)[0])[1]
        return OCROPUS_VARIANTS.index(variant) + 1 if variant in OCROPUS_VARIANTS else 0

    ranked = sorted(names, key=rank)
    return ranked[0] if len(ranked) == 1 or rank(ranked[0]) < rank(ranked[1]) else None


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
    splits = [name for name in SPLIT_FOLDERS if (root / name).is_dir()]
    if splits:  # likely the dataset's top folder given where one split was meant
        log.warning(
            "%s: reading its %s subfolders as one dataset; name the split's folder (e.g. %s) to read one split",
            root, ", ".join(splits), root / splits[0],
        )
    images: dict[str, list[str]] = defaultdict(list)
    labels: set[str] = set()
    image_files: list[tuple[str, str, str]] = []  # (folder prefix, stem, file name)
    for folder, names in _walk(root):
        prefix = f"{folder}/" if folder else ""
        for name in names:
            stem, suffix = os.path.splitext(name)
            if name.endswith(LABEL_SUFFIX):
                labels.add(prefix + name[: -len(LABEL_SUFFIX)])
            elif suffix.lower() in IMAGE_SUFFIXES:
                image_files.append((prefix, stem, name))
    for prefix, stem, name in image_files:
        base, variant = os.path.splitext(stem)
        # x.bin.png belongs to x.gt.txt, unless x.bin.gt.txt names it
        paired = base if variant in OCROPUS_VARIANTS and prefix + stem not in labels else stem
        images[prefix + paired].append(name)
    for key in sorted(images.keys() | labels):
        names = images.get(key, [])
        image_name = _plainest(names) if names else None
        if key not in labels:
            yield Skipped(key, NO_LABEL)
        elif not names:
            yield Skipped(key, IMAGE_MISSING)
        elif image_name is None:
            yield Skipped(key, f"several images share one {LABEL_SUFFIX}")
        else:
            label = _read_label(root / f"{key}{LABEL_SUFFIX}", key)
            if isinstance(label, Skipped):
                yield label
                continue
            image = root / key.rpartition("/")[0] / image_name
            yield line_entry(key, label, image, group=page_group(key, root))
