"""A TSV or CSV manifest: one row per line image, with or without a header.

Without a header the columns are (path, text). With one, the columns are found by name, so the
manifests of ``/work/shared/data/lines`` (``split file page group line_id width height flags text``)
read as they are. Image paths are relative to the manifest's folder.

A TSV cell wholly in double quotes, as Python's csv module and pandas write one that starts with
a quote or holds a tab (``"He said ""hi"" twice"``), is unquoted; any other quote is text, as
written (``"Oui", dit-il``). In the text column only, four escapes let a transcription hold what
would end its cell: ``\\t`` (tab), ``\\n`` (newline), ``\\r`` (carriage return), and ``\\\\``
for a backslash, so that a text holding ``\\t`` itself survives; any other backslash is itself,
and paths and ids are never unescaped (a Windows path stays as it is). ``tsv_line`` writes cells
that way (quoting only those that start with a quote or hold a tab): linescribe reads back
exactly the TSV files it writes (``predict -f tsv``, ``eval --report``).
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path, PureWindowsPath

from linescribe.data.readers._common import IMAGE_MISSING, is_file, line_entry, page_group
from linescribe.data.sample import Sample, Skipped
from linescribe.errors import DatasetError

IMAGE_COLUMNS = ("path", "file", "image", "filename", "file_name", "image_path", "filepath", "image_file")
"""``file_name`` is a Hugging Face image folder's ``metadata.csv``; the others are common spellings."""
TEXT_COLUMNS = ("text", "transcription", "transcript", "label", "gt", "ground_truth")
ID_COLUMNS = ("id",)
"""``line_id`` is not an id: in real manifests it is only unique within its page (``r2l1``)."""
GROUP_COLUMNS = ("group", "document", "form", "page")
"""In order of preference: a document spans pages, and splits must keep documents whole."""
WRITER_COLUMNS = ("writer",)
SUFFIXES = (".tsv", ".csv", ".txt")
_COLUMN_NAME = re.compile(r"[^\W\d]\w{0,39}(?:[ -]\w{1,40}){0,3}")
"""A column name as spreadsheets and scripts write them: a word or a few, no path or file name."""

log = logging.getLogger(__name__)

Row = tuple[int, list[str]]

_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_ESCAPED = re.compile(r"\\([\\tnr])")
_UNESCAPED = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')
"""A csv-quoted cell: its quotes doubled inside; a lone quote ends it."""


def tsv_line(cells: Iterable[object], texts: Collection[int]) -> str:
    """One TSV row, newline included, that ``read`` gives back cell for cell: the cells at the
    ``texts`` positions with the module's four escapes, the others (paths, ids, numbers) as they
    are, and a cell that starts with a quote or holds a tab csv-quoted, since read unquotes it."""
    written = (str(cell).translate(_ESCAPE) if index in texts else str(cell) for index, cell in enumerate(cells))
    return "\t".join(_quoted(cell) if cell.startswith('"') or "\t" in cell else cell for cell in written) + "\n"


def _quoted(cell: str) -> str:
    """The cell as the csv module quotes it."""
    return '"' + cell.replace('"', '""') + '"'


def _tsv_cells(line: str) -> list[str]:
    """The tab-separated cells of a row, a cell wholly in csv quotes (the tabs it holds are its
    own) unquoted where the csv module or pandas would have quoted it: when it holds a quote or a
    tab, or when every cell of the row is quoted (``QUOTE_ALL``). Any other quote is text: a plain
    TSV transcription of a quotation (``"Ami, je pleure avec toi."``) keeps its quotes."""
    if '"' not in line:
        return line.split("\t")
    cells: list[tuple[str, str | None]] = []  # (the cell as written, its content when wholly quoted)
    start = 0
    while True:
        quoted = _QUOTED.match(line, start)
        if quoted and (quoted.end() == len(line) or line[quoted.end()] == "\t"):
            end, content = quoted.end(), quoted[1]
        else:
            end, content = line.find("\t", start), None
            end = len(line) if end < 0 else end
        cells.append((line[start:end], content))
        if end == len(line):
            break
        start = end + 1
    every_cell_quoted = all(content is not None for _, content in cells)
    return [
        content.replace('""', '"')
        if content is not None and (every_cell_quoted or '"' in content or "\t" in content)
        else cell
        for cell, content in cells
    ]


def _unescape(cell: str) -> str:
    """The cell with the escapes ``tsv_line`` writes undone, and nothing else changed."""
    return _ESCAPED.sub(lambda match: _UNESCAPED[match[1]], cell)


def _rows(path: Path) -> Iterator[Row]:
    """(line number, cells) of the non-blank rows: CSV with quoting, anything else split on tabs
    (``_tsv_cells``), one row a line: a quote that spanned lines would swallow the rows after a
    transcription that opens a quotation (the text column's escapes are undone by ``_read``)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if path.suffix.lower() == ".csv":
            reader = csv.reader(handle)
            try:
                for cells in reader:
                    if any(cell.strip() for cell in cells):
                        yield reader.line_num, cells
            except csv.Error as error:
                # e.g. a field over csv.field_size_limit(): the parser cannot resynchronise after it
                raise DatasetError(f"{path}: malformed CSV at line {reader.line_num} ({error})") from None
        else:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip("\r\n")
                if line.strip():
                    yield number, _tsv_cells(line)


def _header(cells: list[str]) -> list[str]:
    """A header row's column names as looked up, without the empty cells a trailing tab or comma
    leaves (spreadsheet exports)."""
    names = [cell.strip().lower() for cell in cells]
    while names and not names[-1]:
        names.pop()
    return names


def _fits(row: list[str], columns: int) -> bool:
    """Whether a row has the header's columns, give or take empty trailing cells."""
    return len(row) >= columns and not any(cell.strip() for cell in row[columns:])


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    """The index of the first of names that the header has."""
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _looks_like_header(folder: Path, cells: list[str]) -> bool:
    """Whether a first row that names no known columns is a header all the same: no cell names
    an existing file and every cell reads as a column name (``image_path``, ``Transcript``). Read
    as data, its columns were taken as (path, text), and every row was skipped for a wrong reason."""
    names = [cell.strip() for cell in cells]
    return all(_COLUMN_NAME.fullmatch(name) for name in names) and not any(is_file(folder / name) for name in names)


def _unknown_header(manifest: Path, cells: list[str], text_needed: bool = True) -> DatasetError:
    """The error for a header row whose column names are not the ones read, with the accepted names."""
    needed = f"an image column ({', '.join(IMAGE_COLUMNS)})"
    if text_needed:
        needed += f" and a text column ({', '.join(TEXT_COLUMNS)})"
    header = ", ".join(cell.strip() for cell in cells)
    return DatasetError(f"{manifest}: the first row looks like a header ({header}), but a header needs {needed}")


def _size_hint(row: list[str], width: int | None, height: int | None) -> tuple[int, int] | None:
    """(width, height) when the manifest has both as positive integers."""
    if width is None or height is None:
        return None
    try:
        size = int(row[width]), int(row[height])
    except ValueError:
        return None
    return size if min(size) > 0 else None


def sniff(path: Path) -> bool:
    """A .tsv or .csv file, or a .txt whose first line has a tab (split lists and lines.txt have none)."""
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in SUFFIXES or path.name.endswith(".gt.txt"):
        return False
    if suffix != ".txt":
        return True
    with path.open(encoding="utf-8", errors="replace") as handle:
        return "\t" in handle.readline()


def image_paths(manifest: Path) -> list[str]:
    """The images a manifest lists, for reading rather than training: its image column (by
    header name) or else its first column, relative to the manifest's folder; texts are not
    needed, and an image that is missing is left for the reader to report."""
    try:
        rows = list(_rows(manifest))
    except UnicodeDecodeError as error:
        raise DatasetError(f"{manifest}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise DatasetError(f"{manifest}: cannot read manifest ({error.strerror})") from None
    if not rows:
        raise DatasetError(f"{manifest}: manifest is empty")
    column = _column(_header(rows[0][1]), IMAGE_COLUMNS)
    if column is None:
        if _looks_like_header(manifest.parent, rows[0][1]):
            raise _unknown_header(manifest, rows[0][1], text_needed=False)
        column = 0
    else:
        rows = rows[1:]
    paths = []
    for number, row in rows:
        if column >= len(row) or not row[column].strip():
            raise DatasetError(f"{manifest}: row {number} names no image")
        paths.append(str(_on_disk(manifest.parent, row[column].strip())))
    return paths


def _on_disk(folder: Path, name: str) -> Path:
    """The image a manifest row names, relative to its folder: as written, or, when that is not
    there and the name has backslashes (a manifest written on Windows: ``lines\\a.png``), with
    them as folder separators. A backslash is a legal character in a file name here, so the name as
    written comes first."""
    path = folder / name
    if "\\" in name and not is_file(path):
        turned = folder / PureWindowsPath(name).as_posix()
        if is_file(turned):
            return turned
    return path


def read(manifest: Path, split: str | None = None) -> Iterator[Sample | Skipped]:
    """Every row as a sample (or, with ``split``, the rows whose ``split`` column has that value);
    rows with the wrong number of cells are Skipped as ``row N: ...``. A manifest that holds
    several splits and is read whole is said in a warning: training on its test rows is rarely
    what was meant."""
    if not manifest.is_file():
        raise DatasetError(f"{manifest}: a tsv dataset is a .tsv or .csv manifest file")
    try:
        yield from _read(manifest, split)
    except UnicodeDecodeError as error:
        raise DatasetError(f"{manifest}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise DatasetError(f"{manifest}: cannot read manifest ({error.strerror})") from None


def _ids_by_image(images: Iterable[Path]) -> dict[Path, str]:
    """The line ids of a manifest without an id column: each image's stem, unless another image
    has the same one (``a/001.png``, ``b/001.png``); then its path without the suffix (``a/001``),
    or as written when even that is shared (``001.png``, ``001.jpg``). Ids must be unique for
    --val-ids and eval reports, and stay the stems they always were where those are unique."""
    bare = {image: (image.parent / image.stem).as_posix() for image in images}
    stems, bare_counts = Counter(image.stem for image in bare), Counter(bare.values())
    ids: dict[Path, str] = {}
    for image in bare:
        if stems[image.stem] == 1:
            ids[image] = image.stem
        elif bare_counts[bare[image]] == 1:
            ids[image] = bare[image]
        else:
            ids[image] = image.as_posix()
    return ids


def _groups_by_image(images: list[Path], folder: Path) -> dict[Path, str]:
    """The documents of a manifest without a group column: each image's folder, unless all are
    in one folder (``lines/``), which then tells no document from another: the page its file name
    names, as in a gt folder (``lines/page0_r1l0.png`` -> ``lines/page0``), so that a split can
    hold some pages out instead of finding a single document."""
    if len({image.parent for image in images}) > 1:
        return {image: image.parent.as_posix() for image in images}
    return {image: page_group((image.parent / image.stem).as_posix(), folder) for image in images}


def _read(manifest: Path, split: str | None) -> Iterator[Sample | Skipped]:
    rows = list(_rows(manifest))
    if not rows:
        raise DatasetError(f"{manifest}: manifest is empty")
    header = _header(rows[0][1])
    image_column, text_column = _column(header, IMAGE_COLUMNS), _column(header, TEXT_COLUMNS)
    if image_column is None or text_column is None:
        if _looks_like_header(manifest.parent, rows[0][1]):
            raise _unknown_header(manifest, rows[0][1])
        header, image_column, text_column = ["path", "text"], 0, 1  # the first row is data
    else:
        rows = rows[1:]
    id_column, group_column = _column(header, ID_COLUMNS), _column(header, GROUP_COLUMNS)
    writer_column = _column(header, WRITER_COLUMNS)
    width_column, height_column = _column(header, ("width",)), _column(header, ("height",))
    split_column = _column(header, ("split",))
    if split is not None and split_column is None:
        raise DatasetError(f"{manifest}#{split}: the manifest has no 'split' column to select rows by")
    splits: set[str] = set()
    folder = manifest.parent
    tsv = manifest.suffix.lower() != ".csv"
    # from every row, whatever the split, so that a line has the same id in each split read
    images = [Path(row[image_column].strip()) for _, row in rows if _fits(row, len(header))]
    ids_by_image = _ids_by_image(images) if id_column is None else {}
    groups_by_image = _groups_by_image(images, folder) if group_column is None else {}
    for number, row in rows:
        if not _fits(row, len(header)):
            # a fixed reason, so that the summary counts all such rows together
            yield Skipped(f"{manifest.name} row {number} ({len(row)} columns)", f"row without {len(header)} columns")
            continue
        if split_column is not None:
            row_split = row[split_column].strip()
            splits.add(row_split)
            if split is not None and row_split != split:
                continue
        relative = Path(row[image_column].strip())
        line_id = row[id_column].strip() if id_column is not None else ids_by_image[relative]
        path = _on_disk(folder, row[image_column].strip())
        if not is_file(path):
            yield Skipped(line_id, IMAGE_MISSING)
            continue
        yield line_entry(
            line_id,
            _unescape(row[text_column]) if tsv else row[text_column],
            path,
            group=row[group_column].strip() if group_column is not None else groups_by_image[relative],
            writer=row[writer_column].strip() if writer_column is not None else "",
            size_hint=_size_hint(row, width_column, height_column),
        )
    if split is not None and split not in splits:
        raise DatasetError(f"{manifest}: no row has split {split!r} (its splits: {', '.join(sorted(splits)) or 'none'})")
    if split is None and len(splits) > 1:
        log.warning(
            "%s: reading every split it lists (%s); add #%s to the path to take one",
            manifest, ", ".join(sorted(splits)), "train" if "train" in splits else sorted(splits)[0],
        )
