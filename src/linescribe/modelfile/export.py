"""ONNX export (``linescribe export``): a self-describing ``.onnx`` file that onnxruntime reads
without torch, checked against PyTorch before it is written.

The graph takes images (N,1,H,W) float32 and widths (N,) int64 and gives log_probs (T,N,C) and
lengths (N,), with the batch and the width dynamic. It comes from the TorchScript-based exporter
(``dynamo=False``): it turns the packed BiLSTM into an ONNX LSTM with ``sequence_lens``, so the
exported graph, like the PyTorch model, reads a line the same alone or in a padded batch. The
model's JSON document (alphabet, preprocessing, architecture, name) goes into the file's
metadata_props.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from linescribe import __version__
from linescribe.data.batching import pad_lines
from linescribe.errors import LinescribeError
from linescribe.files import json_text, write_atomically
from linescribe.modelfile.cache import export_cache_entry
from linescribe.modelfile.document import METADATA_KEY, TrainedModel
from linescribe.modelfile.onnx_runtime import INPUT_NAMES, OUTPUT_NAMES, load_onnx_model

logger = logging.getLogger(__name__)

OPSET = 17
TOLERANCE = 1e-3
"""Largest difference of a log-probability between PyTorch and onnxruntime that export accepts."""

DYNAMIC_AXES = {
    "images": {0: "batch", 3: "width"},
    "widths": {0: "batch"},
    "log_probs": {0: "frames", 1: "batch"},
    "lengths": {0: "batch"},
}


class ExportError(LinescribeError):
    """The exported graph does not compute what the PyTorch model computes."""


@dataclass(frozen=True)
class ExportCheck:
    """How the ONNX graph compared with PyTorch on a random batch of lines of random widths."""

    widths: tuple[int, ...]
    max_abs_diff: float
    """Largest |log-prob difference| over the valid frames of the batch."""
    alone_abs_diff: float
    """Largest difference, in the ONNX graph, between a line read alone and inside the batch."""


_EXPORTING = threading.Lock()
"""One export at a time: two that overlapped restored file descriptor 2 in the wrong order (stderr
left pointing at a deleted file), and the exporter's tracing is not thread-safe either."""


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """The exporter's C++ code logs shape-inference notes about packed sequences straight to file
    descriptor 2; they are harmless (the export is checked numerically), so they are dropped.
    Hold ``_EXPORTING`` around it."""
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _random_lines(model: TrainedModel, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Noise lines of random widths (the model's own size for fixed-width architectures)."""
    preprocessing = model.preprocessing
    if preprocessing.width is not None:
        widths = [preprocessing.width] * count
    else:
        high = max(preprocessing.min_width, min(preprocessing.max_width, 640))
        widths = rng.integers(preprocessing.min_width, high, size=count, endpoint=True).tolist()
    return [rng.random((preprocessing.height, width), dtype=np.float32) for width in widths]


def _trace(net: torch.nn.Module, model: TrainedModel) -> bytes:
    images, widths = pad_lines(_random_lines(model, 3, np.random.default_rng(1)))
    buffer = io.BytesIO()
    with _EXPORTING, warnings.catch_warnings(), _native_stderr_silenced(), torch.inference_mode():
        # the legacy exporter warns that it is legacy, that the trace takes the packing branch
        # for granted and that LSTM batch sizes may vary: all intended, all checked after
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (torch.from_numpy(images), torch.from_numpy(widths)),
            buffer,
            dynamo=False,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=DYNAMIC_AXES,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    return buffer.getvalue()


def _store_half(proto: Any) -> None:
    """Store as fp16 the weights that fp16 holds exactly, each cast back to float32 by a Cast
    node that onnxruntime folds away when it loads the graph: a smaller file, the same float32
    arithmetic. Of a model with fp16 weights these are the LSTM and output layer; the
    convolutions, into which the exporter folds BatchNorm, stay float32."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for tensor in proto.graph.initializer:
        if tensor.data_type != TensorProto.FLOAT:
            continue
        weights = numpy_helper.to_array(tensor)
        halved = weights.astype(np.float16)
        if weights.size < 16 or not np.array_equal(halved.astype(np.float32), weights):
            continue
        half = numpy_helper.from_array(halved, f"{tensor.name}.fp16")
        casts.append(helper.make_node("Cast", [half.name], [tensor.name], to=TensorProto.FLOAT))
        tensor.CopyFrom(half)
    nodes = [*casts, *proto.graph.node]
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)


def _with_metadata(graph: bytes, model: TrainedModel, half: bool) -> bytes:
    import onnx

    proto = onnx.load_from_string(graph)
    if half:
        _store_half(proto)
    document = model.describe()
    document["storage"] = "float16" if half else "float32"
    document["export"] = {"format": "onnx", "opset": OPSET, "torch": torch.__version__, "linescribe": __version__}
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json_text(document)  # a non-UTF-8 dataset path as an escape
    proto.producer_name, proto.producer_version = "linescribe", __version__
    proto.doc_string = f"linescribe {model.arch} line recognizer {model.name!r}: see metadata_props[{METADATA_KEY!r}]"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def check_onnx(model: TrainedModel, data: bytes, lines: int = 4, seed: int = 0) -> ExportCheck:
    """Run one random-width batch through PyTorch (``model.net``, on the CPU in eval mode) and
    onnxruntime and compare the log-probs; also read its most padded line alone in onnxruntime.
    ExportError past TOLERANCE."""
    rng = np.random.default_rng(seed)
    batch = _random_lines(model, lines, rng)
    images, widths = pad_lines(batch)
    with torch.inference_mode():
        expected, expected_lengths = (t.numpy() for t in model.net(torch.from_numpy(images), torch.from_numpy(widths)))
    onnx_net = load_onnx_model(data, threads=1, origin=f"{model.name} (exported)").net
    got, got_lengths = onnx_net(images, widths)
    name = model.name or model.arch
    if got.shape != expected.shape or not np.array_equal(got_lengths, expected_lengths):
        raise ExportError(
            f"{name}: ONNX export check failed: onnxruntime gives shape {got.shape} and lengths {got_lengths.tolist()}, "
            f"PyTorch {expected.shape} and {expected_lengths.tolist()}"
        )
    diff = max(float(np.abs(got[:n, i] - expected[:n, i]).max()) for i, n in enumerate(expected_lengths.tolist()))
    shortest = int(np.argmin(widths))
    alone, alone_lengths = onnx_net(*pad_lines([batch[shortest]]))
    n = int(alone_lengths[0])
    alone_diff = float(np.abs(alone[:n, 0] - got[:n, shortest]).max())
    check = ExportCheck(tuple(widths.tolist()), diff, alone_diff)
    if not (diff <= TOLERANCE and alone_diff <= TOLERANCE):  # NaN (weights gone bad) fails too
        raise ExportError(
            f"{name}: ONNX export check failed: log-probs differ from PyTorch by up to {diff:.2e} and a line read alone "
            f"differs from the same line in a batch by {alone_diff:.2e} (limit {TOLERANCE:g})"
        )
    return check


def onnx_bytes(model: TrainedModel, half: bool = False) -> tuple[bytes, ExportCheck]:
    """The checked ONNX file of a PyTorch model, in memory (``--backend onnx`` on a .safetensors
    model). ``half``: the weights rounded to fp16, as ``save_model(half=True)``, and stored so
    where that is exact (see ``_store_half``); the check compares with the rounded model."""
    net = copy.deepcopy(model.net).to("cpu", torch.float32).eval()
    if half:
        with torch.no_grad():
            for tensor in net.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(tensor.half().float())
    cpu_model = copy.copy(model)
    cpu_model.net = net
    data = _with_metadata(_trace(net, cpu_model), cpu_model, half)
    return data, check_onnx(cpu_model, data)


def export_onnx(model: TrainedModel, path: str | Path, half: bool = False) -> ExportCheck:
    """Write ``model`` as a checked, self-describing ONNX file (atomically, and only if the check passes)."""
    data, check = onnx_bytes(model, half)
    write_atomically(Path(path), data)
    return check


def export_to_cache(model: TrainedModel, entry: Path, source: Path | None = None) -> bytes:
    """The checked ONNX export of ``model``, also written to the cache ``entry`` (see
    ``cache.export_cache_entry``). A cache that cannot be written only costs the export
    next time. ``source``: the model file ``entry`` was named after; when it no longer is (a
    training run replaced it while it was read), the export is not cached under that name."""
    logger.info("%s: exporting to ONNX for onnxruntime, once (cached in %s)", model.name, entry.parent)
    data = onnx_bytes(model)[0]
    try:
        replaced = source is not None and export_cache_entry(source) != entry
    except OSError:  # moved or deleted meanwhile: the export made is still good for this reading
        replaced = True
    if replaced:
        logger.info("%s changed while it was exported: the export is not cached", source)
        return data
    try:
        write_atomically(entry, data, durable=False)
    except OSError as error:
        logger.warning("%s: cannot cache the ONNX export (%s); it is made again next time", entry, error.strerror or error)
    return data
