"""Writing files so that a crash, a full disk or a reader at the wrong moment never sees half a file."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from linescribe.errors import LinescribeError


def _read_umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


FILE_MODE = 0o666 & ~_read_umask()
"""What open() would give a new file (mkstemp alone gives 0600); read once, at import, because
changing the umask to read it is not thread-safe."""


TEMPORARY_NAME_CHARS = 60
"""How much of a file's name its temporary sibling repeats (enough to tell whose it is)."""


def write_atomically(path: Path, data: bytes, durable: bool = True, mode: int | None = None) -> None:
    """Write to a temporary file beside ``path`` and rename it over ``path``: the old file stays
    whole until the new one is complete. ``durable`` also flushes it to disk first (checkpoints,
    models); cheap regenerable files can skip that. ``mode``: the file's permission bits (by
    default those of the file replaced, as an edit would keep them, or a new file's, as open()
    would give it). A symbolic link is written through, to the file it names, and stays a link."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if mode is None:
        mode = _kept_mode(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # the name cut short: the temporary name must fit where a legal 255-byte name does
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:TEMPORARY_NAME_CHARS]}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise _naming(error, path, None) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _naming(error, path, tmp) from None
        raise


def _kept_mode(path: Path) -> int:
    """The permission bits of the regular file at ``path`` (a private 0600 results file stays
    private when rewritten), or a new file's."""
    try:
        found = path.stat()
    except OSError:
        return FILE_MODE
    return stat.S_IMODE(found.st_mode) if stat.S_ISREG(found.st_mode) else FILE_MODE


def _naming(error: OSError, path: Path, temporary: str | None) -> OSError:
    """The error with the file the user asked for as its file name, not the temporary one beside
    it, nor none (a full disk's write names no file, and the command line reports an OSError
    with a file name in one line)."""
    if temporary is None or error.filename in (None, temporary):
        error.filename = str(path)
    return error


def rewrite_atomically(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace an existing file's content as ``write_atomically`` does (through a symbolic link,
    keeping the file's permission bits), refusing (LinescribeError naming it) a read-only file,
    one without any write permission bit too, which even root may not rewrite here."""
    real = Path(os.path.realpath(path))
    mode = stat.S_IMODE(real.stat().st_mode)
    if not os.access(real, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise LinescribeError(f"{path}: read-only file, not rewritten")
    write_atomically(real, data, durable)


def file_identity(path: str | Path) -> tuple[int, int] | None:
    """The file's (device, inode), which two names of one file share; None when it is not there."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def files_by_identity(paths: Iterable[str | Path]) -> dict[tuple[int, int], str]:
    """The files that are there, by identity, each under the first name it was given by."""
    named: dict[tuple[int, int], str] = {}
    for path in paths:
        if (identity := file_identity(path)) is not None:
            named.setdefault(identity, str(path))
    return named


def refuse_writing_over(output: Path, inputs: Iterable[str | Path], option: str) -> None:
    """Refuse an output file that is one of the inputs (by any name): writing it would lose the input."""
    target = file_identity(output)
    same = files_by_identity(inputs).get(target) if target is not None else None  # not there yet: no input
    if same is not None:
        raise LinescribeError(f"{option} {output} is the input {same}: write to another file")


def check_writable(path: Path, folder: bool = False) -> None:
    """Refuse an output file (or, with ``folder``, an output folder) now, before hours of work,
    when it cannot be written there (a file where a folder should be, no permission, a read-only
    disk): LinescribeError naming it. Missing folders are created."""
    path = Path(path)
    where = path if folder else path.parent
    if not folder and path.is_dir():
        raise LinescribeError(f"{path}: cannot write here (a folder is there, where a file is needed)")
    try:
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=f".{path.name[:TEMPORARY_NAME_CHARS]}.", suffix=".tmp", dir=where):
            pass
    except FileExistsError:
        raise LinescribeError(f"{path}: cannot write here (a file is there, where a folder is needed)") from None
    except OSError as error:
        raise LinescribeError(f"{path}: cannot write here ({error.strerror or error})") from None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_bytes(text: str) -> bytes:
    """UTF-8 for an output file; a file name that is not UTF-8 (an old Latin-1 archive's, which
    Python reads with its bytes escaped as lone surrogates) keeps its bytes as they are on disk
    instead of stopping the whole output."""
    return text.encode("utf-8", "surrogateescape")


def without_escaped_bytes(text: str) -> str:
    """``text`` with a non-UTF-8 file name's escaped bytes (lone surrogates) as U+FFFD, for
    formats that cannot hold them at all (XML: the ``&#56553;`` written for one is refused by
    every parser)."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def json_text(value: Any, indent: int | None = None) -> str:
    """JSON with non-ASCII text as written, except a non-UTF-8 file name's escaped bytes, which go
    out as ``\\udcXX`` escapes: valid UTF-8 that ``json.loads`` turns back into the same name (a
    resumed job finds the image done), where the raw surrogates could not be written at all."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
