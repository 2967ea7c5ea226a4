"""Reading an archive on a Dask cluster: ``linescribe predict --cluster ADDRESS``.

The client lists the images, skips those its results already hold, and sends chunks of paths
to the cluster; each worker process loads the model once, with the first chunk it is given
(the model file travels as the result of one task that every chunk depends on, so Dask copies it
to each worker once, also to workers that join or restart later), and reads its chunks; the client
writes each chunk's records as it arrives, with the same resumable writers as ``predict`` on one
machine (``linescribe.large_jobs``). So a worker's death loses nothing written: Dask gives its
chunks to other workers, a chunk that killed several workers is reported as unread, and a rerun
of the same command reads only the images still missing.

The workers read the images by path, so the images must be on a file system every worker sees
at the same path (as on a cluster's shared storage); the model travels to the workers, so it
need not. Needs ``pip install 'linescribe[cluster]'`` (Dask distributed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from distributed import Client, Future, KilledWorker, as_completed, get_worker

from linescribe.errors import LinescribeError
from linescribe.files import write_atomically
from linescribe.inference import Prediction, Recognizer, load_recognizer
from linescribe.large_jobs import ModelSpec, Outcome, PageOutcome, read_page_outcomes

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

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()[:16]


def ship_model(spec: ModelSpec) -> ShippedModel:
    """The file a worker needs to read with ``spec``'s backend: the ONNX file onnxruntime reads
    (a bundled model's shipped export, or the client's cached export of a ``.safetensors``
    model, so workers need neither torch nor an export of their own) or the ``.safetensors``
    file for PyTorch."""
    from linescribe.modelfile.cache import export_cache_entry
    from linescribe.modelfile.names import onnx_twin, resolve_model_path
    from linescribe.modelfile.onnx_runtime import is_onnx_file

    path = resolve_model_path(spec.path_or_name)
    if spec.backend == "onnx" and not is_onnx_file(path):
        exported = onnx_twin(path) or export_cache_entry(path)
        if exported.is_file():
            path = exported
    backend = "onnx" if is_onnx_file(path) else spec.backend
    return ShippedModel(path.read_bytes(), path.suffix, backend)


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
            if not path.is_file():
                write_atomically(path, model.content, durable=False)
            try:
                _loaded[key] = load_recognizer(path, model.backend, spec.threads, **spec.options)
            except LinescribeError as error:
                raise LinescribeError(f"worker {worker.address} cannot load the model: {error}") from None
            worker.log_event(MODEL_EVENT, {"worker": worker.address, "pid": os.getpid(), "backend": _loaded[key].backend})
        return _loaded[key]


def _the_model(model: ShippedModel) -> ShippedModel:
    """The task whose result is the model file (see ``read_on_cluster``)."""
    return model


def read_lines_task(model: ShippedModel, spec: ModelSpec, paths: list[str]) -> list[Prediction]:
    """A worker's task for line images: the chunk's predictions (an unreadable image gives one
    with its error)."""
    return _recognizer(model, spec).predict_many(paths)


def read_pages_task(model: ShippedModel, spec: ModelSpec, paths: list[str], formats: tuple[str, ...]) -> list[PageOutcome]:
    """A worker's task for page images: each page's record and rendered files."""
    return read_page_outcomes(_recognizer(model, spec), paths, formats)


def connect(address: str) -> Client:
    """A client of the scheduler at ``address`` (``tcp://host:8786``, or a ``scheduler.json``
    file as ``dask scheduler --scheduler-file`` writes it), given up after Dask's connect
    timeout (``distributed.comm.timeouts.connect``, 30 s unless configured)."""
    try:
        if address.endswith(".json"):
            return Client(scheduler_file=address)
        return Client(address)
    except (OSError, TimeoutError) as error:
        raise LinescribeError(f"cannot reach the Dask scheduler at {address} ({error})") from None


def _unread(paths: Sequence[str], formats: tuple[str, ...] | None, reason: str) -> list[Outcome]:
    """Outcomes with an error for a chunk the cluster could not read, so the rest is written
    and a rerun tries these images again."""
    if formats is None:
        return [Prediction(path, "", 0.0, error=f"{path}: {reason}") for path in paths]
    return [PageOutcome(path, {"file": path, "text": "", "error": f"{path}: {reason}"}, error=f"{path}: {reason}") for path in paths]


def read_on_cluster(
    client: Client, spec: ModelSpec, paths: Sequence[str], chunk_size: int, formats: tuple[str, ...] | None = None
) -> Iterator[list[Outcome]]:
    """The outcomes of reading ``paths`` on the cluster, chunk by chunk as chunks finish (not in
    order): Predictions for line images, or PageOutcomes with ``formats`` rendered for page images
    (``formats`` given). Chunks are sent a few per worker thread at a time, so the client holds
    little however large the archive. A model that a worker cannot load stops the run with its
    error."""
    # the model is the result of one task that every chunk depends on: Dask sends it to each
    # worker once, with the worker's first chunk, and makes it again if the worker holding it dies
    shipped = ship_model(spec)
    model = client.submit(_the_model, shipped, pure=False, key=f"linescribe-model-{shipped.digest}-{os.urandom(4).hex()}")
    chunks = [list(paths[start : start + chunk_size]) for start in range(0, len(paths), chunk_size)]
    threads = max(1, sum(client.nthreads().values()))
    task, extra = (read_lines_task, ()) if formats is None else (read_pages_task, (formats,))
    model_and_spec = (model, spec)

    pending: dict[str, tuple[Future, list[str]]] = {}

    def submit(number: int) -> Future:
        # pure=False: a chunk sent again (a rerun) is read again, never taken from a cached result
        future = client.submit(task, *model_and_spec, chunks[number], *extra, pure=False)
        pending[future.key] = (future, chunks[number])
        return future

    sent = min(len(chunks), CHUNKS_PER_WORKER_THREAD * threads)
    running = as_completed([submit(number) for number in range(sent)])
    try:
        for future in running:
            chunk = pending.pop(future.key)[1]
            try:
                yield future.result()
            except KilledWorker as error:
                logger.warning("linescribe: %s; its %d images are reported as unread", error, len(chunk))
                yield _unread(chunk, formats, "not read: the workers that tried it died (see their logs)")
            if sent < len(chunks):
                running.add(submit(sent))
                sent += 1
    finally:
        running.clear()
        client.cancel([model, *(future for future, _ in pending.values())])
