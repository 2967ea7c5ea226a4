"""Reading an archive on a Dask cluster: ``linescribe predict --cluster ADDRESS``.

The client lists the images, skips those its results already hold, and sends chunks of paths
to the cluster; each worker process loads the model once, with the first chunk it is given
(the model file travels as the result of one task that every chunk depends on, so Dask copies it
to each worker once, also to workers that join or restart later), and reads its chunks; the client
writes each chunk's records as it arrives, with the same resumable writers as ``predict`` on one
machine (``linescribe.large_jobs``). So a worker's death loses nothing written: Dask gives its
chunks to other workers, a chunk whose workers kept dying is reported as unread, and a rerun
of the same command reads only the images still missing.

The workers read the images (and any LM or lexicon file) by absolute path, so these must be on a
file system every worker sees at the same path (as on a cluster's shared storage); the model
travels to the workers, so it need not. Needs ``pip install 'linescribe[cluster]'``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import dask
from distributed import Client, Future, KilledWorker, as_completed, get_worker

from linescribe.errors import LinescribeError
from linescribe.files import write_atomically
from linescribe.inference import Prediction, Recognizer, load_recognizer
from linescribe.large_jobs import ModelSpec, Outcome, PageOutcome, read_page_outcomes, renamed

logger = logging.getLogger(__name__)

MODEL_EVENT = "linescribe-model"
"""Topic of the event each worker logs when it has loaded the model (``Client.get_events``)."""
CHUNKS_PER_WORKER_THREAD = 2
"""Chunks in flight per worker thread: enough that no thread waits for its next chunk, few
enough that the client holds little and a rerun after a crash repeats little."""


@dataclass(frozen=True)
class ShippedModel:
    """The model file itself, sent to every worker, and how to open it there."""

    content: bytes
    suffix: str
    backend: str

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()[:16]


def ship_model(spec: ModelSpec) -> ShippedModel:
    """The file a worker needs to read with ``spec``'s backend: the ONNX file onnxruntime reads
    (a bundled model's shipped export, or the client's cached export of a ``.safetensors``
    model, so workers need no torch) or the ``.safetensors`` file for PyTorch (``--backend
    torch``, or a model whose export failed its check: then workers need linescribe[train])."""
    from linescribe.modelfile.cache import export_cache_entry
    from linescribe.modelfile.names import onnx_twin, resolve_model_path
    from linescribe.modelfile.onnx_runtime import is_onnx_file

    path = resolve_model_path(spec.path_or_name)
    if spec.backend == "onnx" and not is_onnx_file(path):
        twin = onnx_twin(path)
        if twin is None:
            entry = export_cache_entry(path)
            try:
                return ShippedModel(entry.read_bytes(), ".onnx", "onnx")
            except OSError:  # a cache the client could not write: its export lived in memory only
                from linescribe.modelfile.export import export_to_cache
                from linescribe.modelfile.weights import load_model_file

                return ShippedModel(export_to_cache(load_model_file(path), entry, source=path), ".onnx", "onnx")
        path = twin
    return ShippedModel(path.read_bytes(), path.suffix, "onnx" if is_onnx_file(path) else spec.backend)


def for_workers(spec: ModelSpec) -> ModelSpec:
    """``spec`` with the LM and lexicon files it names made absolute, as the workers see them (a
    bundled LM's name stays a name, as on one machine, even beside a file or folder of that name)."""
    from linescribe.lm import bundled_lms

    decoding = spec.options.get("decoding")
    if decoding is None:
        return spec
    files = {name: os.path.abspath(value) for name in ("lm", "lexicon")
             if (value := getattr(decoding, name)) is not None and os.path.exists(value)
             and not (name == "lm" and isinstance(value, str) and value in bundled_lms())}
    return dataclasses.replace(spec, options={**spec.options, "decoding": dataclasses.replace(decoding, **files)})


_loaded: dict[tuple[str, str], Recognizer] = {}
_loading = threading.Lock()


def _recognizer(model: ShippedModel, spec: ModelSpec) -> Recognizer:
    """The worker process's Recognizer for this model, loaded by the first chunk that needs it
    and shared by the next (onnxruntime sessions and PyTorch inference are safe to call from
    several threads). Each load is logged as a ``MODEL_EVENT`` on the scheduler. A worker keeps
    the model of the latest run only."""
    key = (model.digest, repr(spec))
    with _loading:
        if key not in _loaded:
            _loaded.clear()
            worker = get_worker()
            path = Path(worker.local_directory) / f"linescribe-model-{model.digest}{model.suffix}"
            try:
                if not path.is_file():
                    write_atomically(path, model.content, durable=False)
                _loaded[key] = load_recognizer(path, model.backend, spec.threads, **spec.options)
            except Exception as error:  # noqa: BLE001 (onnxruntime's own errors, a missing package...)
                reason = str(error) if isinstance(error, LinescribeError) else f"{type(error).__name__}: {error}"
                raise LinescribeError(f"worker {worker.address} cannot load the model: {reason}") from None
            worker.log_event(MODEL_EVENT, {"worker": worker.address, "pid": os.getpid(), "backend": _loaded[key].backend})
        return _loaded[key]


def _the_model(model: ShippedModel) -> ShippedModel:
    """The task whose result is the model file (see ``read_on_cluster``)."""
    return model


def read_lines_task(model: ShippedModel, spec: ModelSpec, paths: list[str]) -> list[Prediction]:
    """A worker's task for line images: the chunk's predictions (an unreadable image gives one
    with its error)."""
    return _recognizer(model, spec).predict_many(paths)


def read_pages_task(
    model: ShippedModel, spec: ModelSpec, paths: list[str], given: list[str], formats: tuple[str, ...]
) -> list[PageOutcome]:
    """A worker's task for page images: each page's record and rendered files, naming each image
    as the user gave it (``given``), as on one machine."""
    return read_page_outcomes(_recognizer(model, spec), paths, formats, names=given)


def connect(address: str) -> Client:
    """A client of the scheduler at ``address`` (``tcp://host:8786``, or a ``scheduler.json``
    file as ``dask scheduler --scheduler-file`` writes it), given up after Dask's connect
    timeout (``distributed.comm.timeouts.connect``, 30 s unless configured)."""
    if address.endswith(".json"):
        try:
            address = json.loads(Path(address).read_text(encoding="utf-8"))["address"]
        except OSError as error:
            raise LinescribeError(f"{address}: cannot read the scheduler file ({error.strerror})") from None
        except (ValueError, KeyError, TypeError):
            raise LinescribeError(f"{address}: not a Dask scheduler file (no JSON with an 'address')") from None
    try:
        return Client(address)
    except ValueError as error:
        raise LinescribeError(f"{address}: not a Dask scheduler address, e.g. tcp://host:8786 ({error})") from None
    except (OSError, TimeoutError) as error:
        raise LinescribeError(f"cannot reach the Dask scheduler at {address} ({error})") from None


def _unread(paths: Sequence[str], formats: tuple[str, ...] | None, reason: str) -> list[Outcome]:
    """Outcomes with an error for a chunk the cluster could not read, so the rest is written
    and a rerun tries these images again."""
    if formats is None:
        return [Prediction(path, "", 0.0, error=f"{path}: {reason}") for path in paths]
    return [PageOutcome.failed(path, f"{path}: {reason}") for path in paths]


def _as_given(outcomes: list[Outcome], given: Sequence[str]) -> list[Outcome]:
    """The line predictions of a chunk sent as absolute paths, named (and their errors worded) by
    the paths as the user gave them: what the results files hold and a rerun compares. Pages
    are named so on the workers, where their files are rendered."""
    named: list[Outcome] = []
    for outcome, path in zip(outcomes, given, strict=True):
        if isinstance(outcome, Prediction):
            error = outcome.error and renamed(outcome.error, outcome.source, path)
            outcome = dataclasses.replace(outcome, source=path, error=error)
        named.append(outcome)
    return named


def _worker_threads(client: Client) -> int:
    return sum(client.nthreads().values())


def read_on_cluster(
    client: Client, spec: ModelSpec, paths: Sequence[str], chunk_size: int, formats: tuple[str, ...] | None = None
) -> Iterator[list[Outcome]]:
    """The outcomes of reading ``paths`` on the cluster, chunk by chunk as chunks finish (not in
    order): Predictions for line images, or PageOutcomes with ``formats`` rendered for page images
    (``formats`` given). Chunks are sent a few per worker thread at a time (counted again as
    chunks finish, so workers that join later get work), so the client holds little however
    large the archive. A model that a worker cannot load, an error on a worker, or the lost
    scheduler stops the run with a LinescribeError; what was yielded before stays written."""
    spec = for_workers(spec)
    shipped = ship_model(spec)
    if not _worker_threads(client):
        logger.warning("linescribe: no workers at the scheduler yet; waiting for some to join (Ctrl-C to stop)")
        client.wait_for_workers(1)
    # the model is the result of one task that every chunk depends on: Dask sends it to each
    # worker once, with the worker's first chunk, and makes it again if the worker holding it dies
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": f"{len(shipped.content) + 2**20}B"}):
        model = client.submit(_the_model, shipped, pure=False, key=f"linescribe-model-{shipped.digest}-{os.urandom(4).hex()}")
    chunks = [list(paths[start : start + chunk_size]) for start in range(0, len(paths), chunk_size)]
    pending: dict[str, tuple[Future, list[str]]] = {}

    def submit(number: int) -> Future:
        # pure=False: a chunk sent again (a rerun) is read again, never taken from a cached result
        absolute = [os.path.abspath(path) for path in chunks[number]]
        if formats is None:
            future = client.submit(read_lines_task, model, spec, absolute, pure=False)
        else:
            future = client.submit(read_pages_task, model, spec, absolute, chunks[number], formats, pure=False)
        pending[future.key] = (future, chunks[number])
        return future

    sent = min(len(chunks), CHUNKS_PER_WORKER_THREAD * max(1, _worker_threads(client)))
    running = as_completed([submit(number) for number in range(sent)])
    try:
        for future in running:
            chunk = pending.pop(future.key)[1]
            try:
                yield _as_given(future.result(), chunk)
            except KilledWorker as error:
                logger.warning("linescribe: %s; its %d images are recorded as unread", error, len(chunk))
                yield _unread(chunk, formats, "not read: the workers that tried it kept dying (see their logs)")
            except LinescribeError:
                raise
            except (CancelledError, OSError) as error:  # the scheduler went away, or its connection
                raise LinescribeError(f"lost the Dask scheduler ({type(error).__name__}: {error}); "
                                      "the same command continues where this run stopped") from None
            except Exception as error:  # noqa: BLE001 (raised on a worker: reported in one line)
                raise LinescribeError(f"reading on the cluster failed ({type(error).__name__}: {error})") from None
            wanted = CHUNKS_PER_WORKER_THREAD * max(1, _worker_threads(client))
            while sent < len(chunks) and len(pending) < wanted:
                running.add(submit(sent))
                sent += 1
    finally:
        running.clear()
        if client.status == "running":
            client.cancel([model, *(future for future, _ in pending.values())])
