"""Reading large sets of images (``linescribe predict`` over folders): results written as they
come, resumable after a crash or Ctrl-C, and several worker processes (or a cluster's workers,
``linescribe.cluster``).

Resumable outputs: a JSON Lines file (one record per image, appended and synced after every
window of images; a torn last line left by a crash is cut off on the next run), a folder of
``.txt`` files (one per line image, each written atomically), and for page images a folder of
each page's files (text, JSON, PAGE, ALTO, overlay; each written atomically). A rerun skips the
images already there.
"""

from __future__ import annotations

import json
import os
import stat
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from linescribe.errors import LinescribeError
from linescribe.files import json_text, write_atomically
from linescribe.inference import Prediction, Recognizer, load_recognizer

PAGE_RECORD_KEYS = ("width", "height", "skew", "lines")
"""What a page image's JSON Lines record holds beside ``file``, ``text`` and ``error``: the
``-f json`` page fields (``linescribe.layout.to_json``)."""


def json_record(prediction: Prediction) -> dict[str, Any]:
    """``predict``'s record of an image: its file, the reading (``Prediction.to_dict``) and
    ``error``, null when read. An unreadable image's record stops at its error, and one read
    without alternatives (greedy decoding) leaves the key out."""
    reading = prediction.to_dict()
    record = {
        "file": prediction.source,
        "text": reading.pop("text"),
        "confidence": reading.pop("confidence"),
        "error": prediction.error or None,
    }
    if not prediction.ok:
        return record
    if not prediction.alternatives:
        del reading["alternatives"]
    return {**record, **reading}


@dataclass(frozen=True)
class PageOutcome:
    """One page image read: its JSON Lines record and its rendered files (``{suffix: bytes}``),
    or the error that stopped it. Made where the page was read, written by whoever keeps the
    results (on a cluster, the workers read and the client writes)."""

    source: str
    record: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @classmethod
    def failed(cls, source: str, error: str) -> PageOutcome:
        """A page image that could not be read: its record holds the error, and no files."""
        return cls(source, {"file": source, "text": "", "error": error}, error=error)


def page_error(path: str, error: Exception) -> str:
    """The one-line error of a page image that could not be read. An error linescribe did not
    expect (a bug met on some odd image) is reported as that page's error too, so that one image
    never stops a batch of thousands with a traceback."""
    if isinstance(error, LinescribeError):
        return str(error)
    return f"{path}: could not be read ({type(error).__name__}: {error}; a linescribe bug, please report it)"


def renamed(message: str, path: str, name: str) -> str:
    """An error message that begins with the path an image was opened by, beginning with the
    name the user gave it instead (a cluster's workers open images by absolute path)."""
    return name + message[len(path) :] if message.startswith(path) else message


def read_page_outcomes(
    recognizer: Recognizer, paths: Sequence[str], formats: Sequence[str], names: Sequence[str] | None = None
) -> list[PageOutcome]:
    """Find, order and read the lines of each page image and render its ``formats``; an image
    that cannot be read gives an outcome with its error, and the others are read. ``names``: what
    the records, the rendered files and the errors call each image (default: its path)."""
    from linescribe.layout import read_page, render_outputs, to_json

    outcomes = []
    for path, name in zip(paths, paths if names is None else names, strict=True):
        try:
            page = read_page(recognizer, path, source=name)
            files = render_outputs(page, formats, image=path)  # the name may not lead to it from here
        except Exception as error:
            outcomes.append(PageOutcome.failed(name, renamed(page_error(path, error), path, name)))
            continue
        reading = to_json(page)
        record = {"file": name, "text": reading["text"], "error": None, **{key: reading[key] for key in PAGE_RECORD_KEYS}}
        outcomes.append(PageOutcome(name, record, files))
    return outcomes


Outcome = Prediction | PageOutcome
"""What the results writers take: a line image's Prediction or a page image's PageOutcome."""


def result_record(outcome: Outcome) -> dict[str, Any]:
    """The JSON Lines record of a line or page image."""
    return outcome.record if isinstance(outcome, PageOutcome) else json_record(outcome)


RECORD_START = '{"file": '
"""How every record ``JsonlResults`` writes begins (``file`` is each record's first key): a torn
last line does too, and a last line that does not is no record of ours."""


class JsonlResults:
    """A JSON Lines results file that survives interruption: records are appended and synced to
    disk after each window, and on reopening the images it holds a text for count as done.

    A record with an error does not count: the image is tried again on the next run, and its
    new record follows the old one (readers take a file's last record).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")
        try:
            hold_exclusively(self._handle.fileno(), path)
            self._resume()
        except BaseException:
            self._handle.close()
            raise

    def _resume(self) -> None:
        """Take the images the file holds a text for as done, every line checked first, reading
        it a line at a time (a million records fit in little memory): a last line without its
        newline is a whole record (given its newline now) or, when it is not JSON but begins as a
        record does or is the zeros a power loss leaves, the torn end of a write a crash cut
        short, cut off only once the lines before it showed the file to be a results file."""
        number, end, records, tail = 0, 0, False, b""
        try:
            with open(self.path, "rb") as lines:
                for raw in lines:
                    if not raw.endswith(b"\n"):
                        tail = raw
                        break
                    number += 1
                    end += len(raw)
                    line = raw[:-1].decode("utf-8", errors="replace")
                    self._take(number, line)
                    records = records or bool(line.strip())
        except OSError as error:
            raise LinescribeError(f"{self.path}: cannot read the results to resume ({error.strerror})") from None
        if not tail:
            return
        text = tail.decode("utf-8", errors="replace")
        try:
            json.loads(text)
        except json.JSONDecodeError:
            prefix = RECORD_START.startswith(text) or not text.strip("\0")
            if text.startswith(RECORD_START) or (prefix and records):
                os.truncate(self.path, end)
                return
        self._take(number + 1, text)
        self._handle.write("\n")
        self._handle.flush()

    def _take(self, number: int, line: str) -> None:
        """Count the image of line ``number`` as done if it was read; a line that is not a
        results record is refused, so that no other file is ever appended to or cut."""
        if not line.strip():
            return
        try:
            record = json.loads(line)
            file, error = record["file"], record.get("error")
        except (json.JSONDecodeError, KeyError, TypeError):
            file, error = None, None
        if not isinstance(file, str):
            raise LinescribeError(
                f"{self.path}: line {number} is not a linescribe result record; give another --output to start afresh"
            )
        if not error:
            self.done.add(file)

    def write(self, outcomes: Sequence[Outcome]) -> list[str]:
        """Append the records (a failed write stops the job: the file itself is in trouble)."""
        self._handle.write("".join(json_text(result_record(o)) + "\n" for o in outcomes))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return []

    def close(self) -> None:
        self._handle.close()


def _written(path: Path) -> bool:
    """Whether an output file is there with some content: the folders' files are renamed into
    place without a sync, so after a power loss one may come back empty, and every output holds
    at least a byte (a line's text ends with a newline; a page without lines, whose text file is
    empty, is read again on a rerun)."""
    try:
        found = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and found.st_size > 0


def hold_exclusively(descriptor: int, path: Path) -> None:
    """Lock an output (a results file, or an output folder's descriptor) for this run, so that a
    job started twice by mistake (a resubmitted batch job) is refused instead of reading every
    image twice. A file system without locks (some network mounts) runs unguarded."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise LinescribeError(
            f"{path}: another linescribe run is writing these results; let it end, or give another output"
        ) from None
    except OSError:
        pass


class _FolderOutput:
    """An output folder held for this run (``hold_exclusively``) until ``close``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._descriptor: int | None = os.open(folder, os.O_RDONLY)
        try:
            hold_exclusively(self._descriptor, folder)
        except LinescribeError:
            self.close()
            raise

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def mirrored_paths(folder: Path, paths: Sequence[str], suffix: str | None = None, base: str | None = None) -> dict[str, Path]:
    """Where each path's output goes in ``folder``: its path relative to ``base`` (by default the
    folder the paths share; ``scans/a/1.png`` -> ``OUT/a/1.png`` for base ``scans``), with
    ``suffix`` instead of its own when given. A path outside ``base`` is placed relative to the
    folder all of them share with it. Two paths that would share an output are refused."""
    absolute = [os.path.abspath(path) for path in paths]
    folders = [os.path.dirname(path) for path in absolute] + ([os.path.abspath(base)] if base is not None else [])
    base = os.path.commonpath(folders) if folders else ""
    targets: dict[str, Path] = {}
    seen: dict[Path, str] = {}
    for path, full in zip(paths, absolute):
        target = folder / os.path.relpath(full, base)
        if suffix is not None:
            target = target.with_suffix(suffix)
        if target in seen:
            raise LinescribeError(f"{seen[target]} and {path} would both be written to {target}: rename one of them")
        seen[target] = path
        targets[path] = target
    return targets


def _written_or_error(path: Path, content: bytes, source: str) -> str:
    """Write one output file atomically; the one-line error naming it when it cannot be (a name
    too long for the file system, a full disk), so that one image does not stop the job."""
    try:
        write_atomically(path, content, durable=False)
    except OSError as error:
        return f"{source}: its output {path} was not written ({error.strerror or error})"
    return ""


class TextFolderResults(_FolderOutput):
    """One ``.txt`` file per image in a folder, named after the image's path relative to
    ``base`` (the folder the user named; by default the one the images share: ``scans/a/1.png``
    -> ``OUT/a/1.txt``), each written atomically; an image whose ``.txt`` exists and is not empty
    is done. Unreadable images get no file, so a rerun tries them again."""

    def __init__(self, folder: Path, paths: Sequence[str], base: str | None = None) -> None:
        self.targets = mirrored_paths(folder, paths, ".txt", base)
        super().__init__(folder)
        self.done = {path for path, target in self.targets.items() if _written(target)}

    def write(self, predictions: Sequence[Prediction]) -> list[str]:
        """Write the read images' files; the errors of those that could not be written."""
        errors = (
            _written_or_error(self.targets[p.source], (p.text + "\n").encode("utf-8"), p.source) for p in predictions if p.ok
        )
        return [error for error in errors if error]


class PageFolderResults(_FolderOutput):
    """Each page image's files (one per output format) in a folder, named after the image's path
    relative to ``base`` as ``TextFolderResults`` names them (``OUT/a/1.txt``,
    ``OUT/a/1.page.xml``...), each written atomically; an image is done when all of them exist and
    none is empty."""

    def __init__(self, folder: Path, paths: Sequence[str], formats: Sequence[str], base: str | None = None) -> None:
        from linescribe.layout.outputs import output_suffixes

        self.stems = mirrored_paths(folder, paths, "", base)
        super().__init__(folder)
        suffixes = output_suffixes(formats)
        self.done = {path for path, stem in self.stems.items() if all(_written(Path(f"{stem}{suffix}")) for suffix in suffixes)}

    def write(self, outcomes: Sequence[PageOutcome]) -> list[str]:
        """Write the read pages' files; the errors of the pages whose files could not all be
        written (a rerun reads them again)."""
        errors = []
        for outcome in outcomes:
            for suffix, content in outcome.files.items():
                if error := _written_or_error(Path(f"{self.stems[outcome.source]}{suffix}"), content, outcome.source):
                    errors.append(error)
                    break
        return errors


@dataclass(frozen=True)
class ModelSpec:
    """What a worker process needs to load the model itself."""

    path_or_name: str | None
    backend: str
    threads: int | None
    options: dict[str, Any]


_worker_recognizer: Recognizer | LinescribeError | None = None


def _start_worker(spec: ModelSpec) -> None:
    global _worker_recognizer
    try:
        _worker_recognizer = load_recognizer(spec.path_or_name, spec.backend, spec.threads, **spec.options)
    except LinescribeError as error:  # raised again with the first chunk, so the parent can report it
        _worker_recognizer = error
    except Exception as error:  # noqa: BLE001 (an initializer that raises breaks the whole pool)
        _worker_recognizer = LinescribeError(f"cannot load the model in a worker process ({type(error).__name__}: {error})")


def _read_in_worker(paths: list[str]) -> list[Prediction]:
    if isinstance(_worker_recognizer, LinescribeError):
        raise _worker_recognizer
    assert _worker_recognizer is not None, "worker started without a model"
    return _worker_recognizer.predict_many(paths)


def read_in_processes(spec: ModelSpec, paths: Sequence[str], jobs: int, chunk_size: int) -> Iterator[list[Prediction]]:
    """The predictions for ``paths``, chunk by chunk in order, read by ``jobs`` worker processes
    (started fresh, not forked, so no thread state of this process is copied into them)."""
    chunks = [list(paths[start : start + chunk_size]) for start in range(0, len(paths), chunk_size)]
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(spec,)) as pool:
        pending: deque[Future[list[Prediction]]] = deque()
        next_chunk = 0
        while next_chunk < len(chunks) or pending:
            while next_chunk < len(chunks) and len(pending) < 2 * jobs:
                pending.append(pool.submit(_read_in_worker, chunks[next_chunk]))
                next_chunk += 1
            try:
                yield pending.popleft().result()
            except BaseException as error:
                for future in pending:
                    future.cancel()
                if isinstance(error, BrokenProcessPool):  # a worker killed, by the kernel's OOM killer most often
                    raise LinescribeError(
                        "a worker process died (out of memory?): try fewer --jobs; a resumable output "
                        "(-o FILE.jsonl, --output-dir) keeps the images read so far, and a rerun reads the others"
                    ) from None
                raise
