"""Exported ONNX models, run by onnxruntime: the inference path that needs no torch.

An ONNX file written by ``linescribe export`` holds the graph, its weights and, in its
metadata_props, the same JSON document as a ``.safetensors`` header (alphabet, preprocessing,
architecture, name), so one call gives a ready ``TrainedModel``. ONNX is protobuf: loading a
file parses data and never runs code from it. The file is read into memory first and
onnxruntime is told to look for external weights in an empty folder, so a file cannot make it
read other files on disk either (for bytes, it would look in the working directory).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from linescribe.errors import ModelFileError
from linescribe.modelfile.document import METADATA_KEY, TrainedModel, model_from_document, parse_document

INPUT_NAMES = ("images", "widths")
"""images (N,1,H,W) float32, ink = 1, padded with 0; widths (N,) int64."""
OUTPUT_NAMES = ("log_probs", "lengths")
"""log_probs (T,N,C) float32; lengths (N,) int64: the valid frames of each line."""
GRAPH_INTERFACE = (("tensor(float)", 4), ("tensor(int64)", 1), ("tensor(float)", 3), ("tensor(int64)", 1))
"""The type and rank of each input and output, in that order."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset or SLURM)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class OnnxNet:
    """An onnxruntime session called like a ``LineNet``, on numpy arrays instead of tensors.

    ``session.run`` is thread-safe, so one OnnxNet can serve several threads at once.
    """

    def __init__(self, session: Any, threads: int) -> None:
        self.session = session
        self.threads = threads

    def __call__(self, images: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """images (N,1,H,W) float32, widths (N,) int64 -> log_probs (T,N,C), lengths (N,)."""
        log_probs, lengths = self.session.run(OUTPUT_NAMES, {"images": images, "widths": widths})
        return log_probs, lengths


def is_onnx_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".onnx"


def _session(data: bytes, origin: str, threads: int | None) -> tuple[Any, int]:
    import onnxruntime

    threads = threads or available_cores()
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads  # one forward pass at a time uses every core
    options.inter_op_num_threads = 1
    # denormals are not flushed to zero: that would be ~3 % faster, but it sets the processor's
    # FTZ/DAZ flags for the whole process, which changes the arithmetic of the caller's own code
    options.log_severity_level = 3
    try:
        with tempfile.TemporaryDirectory(prefix="linescribe-onnx-") as empty:  # weights are read at creation
            options.add_session_config_entry("session.model_external_initializers_file_folder_path", empty)
            session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's errors derive from Exception only
        reason = str(error).split(" : ")[-1].strip() or type(error).__name__
        raise ModelFileError(f"{origin}: not an ONNX model onnxruntime can load ({reason})") from None
    return session, threads


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read model file ({error.strerror})") from None
    if len(data) > 8 and data[8:9] == b"{" and int.from_bytes(data[:8], "little") < len(data):
        raise ModelFileError(f"{path}: this is a safetensors model file, not ONNX; rename it to .safetensors")
    return data


def _document(session: Any, origin: str) -> dict[str, Any]:
    metadata = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in metadata:
        raise ModelFileError(f"{origin}: ONNX file without linescribe metadata (not written by `linescribe export`)")
    inputs = tuple(node.name for node in session.get_inputs())
    outputs = tuple(node.name for node in session.get_outputs())
    if inputs != INPUT_NAMES or outputs != OUTPUT_NAMES:
        raise ModelFileError(f"{origin}: ONNX graph has inputs {inputs} and outputs {outputs}, expected {INPUT_NAMES} -> {OUTPUT_NAMES}")
    for node, (kind, rank) in zip((*session.get_inputs(), *session.get_outputs()), GRAPH_INTERFACE, strict=True):
        if node.type != kind or len(node.shape) != rank:
            raise ModelFileError(f"{origin}: ONNX graph's {node.name} is a rank-{len(node.shape)} {node.type}, expected rank-{rank} {kind}")
    return parse_document(metadata[METADATA_KEY], origin)


def load_onnx_model(source: str | Path | bytes, threads: int | None = None, origin: str | None = None) -> TrainedModel:
    """A TrainedModel whose ``net`` is an OnnxNet, from an ``.onnx`` file or its bytes.

    ``threads``: onnxruntime's intra-op threads (default: every available core). ``origin`` names
    bytes in error messages.
    """
    if isinstance(source, bytes):
        data, origin = source, origin or "<onnx bytes>"
    else:
        data, origin = _read(Path(source)), str(source)
    session, threads = _session(data, origin, threads)
    model = model_from_document(_document(session, origin), OnnxNet(session, threads), origin)
    _check_graph_fits(session, model, origin)
    _check_reads_a_line(model, origin)
    return model


def _check_reads_a_line(model: TrainedModel, origin: str) -> None:
    """Read one blank line: a graph whose output layer's weights hold NaN or infinities (a damaged
    or carelessly edited file; a safetensors file's weights are checked as they load) would
    otherwise read every line as nothing, with NaN confidences, and never say why. (NaN deeper in
    the graph may not show: onnxruntime's ReLU and LSTM activations turn NaN into numbers.)"""
    height = model.preprocessing.height
    width = model.preprocessing.width or 4 * height
    try:
        log_probs, _ = model.net(np.zeros((1, 1, height, width), np.float32), np.array([width], np.int64))
    except Exception as error:  # onnxruntime's own error types, one per failure
        raise ModelFileError(f"{origin}: the ONNX graph cannot read a line: {str(error).strip().splitlines()[0]}") from None
    if not np.isfinite(log_probs).all():
        raise ModelFileError(f"{origin}: the ONNX graph reads a blank line as NaN or infinite log-probabilities: damaged weights")


def _check_graph_fits(session: Any, model: TrainedModel, origin: str) -> None:
    """Refuse a description that does not fit its graph (an edited or mismatched file), which
    would otherwise crash in decoding or in onnxruntime, or read with the wrong letters."""
    classes = session.get_outputs()[0].shape[2]
    if isinstance(classes, int) and classes != model.alphabet.num_classes:
        raise ModelFileError(
            f"{origin}: the graph gives {classes} classes but the description's alphabet has {model.alphabet.num_classes}"
        )
    height = session.get_inputs()[0].shape[2]
    if isinstance(height, int) and height != model.preprocessing.height:
        raise ModelFileError(
            f"{origin}: the graph reads lines {height} px high but the description says {model.preprocessing.height}"
        )


def read_onnx_document(path: str | Path) -> dict[str, Any]:
    """The model document in an exported ONNX file (``linescribe info``)."""
    session, _ = _session(_read(Path(path)), str(path), threads=1)
    document = _document(session, str(path))
    _check_graph_fits(session, model_from_document(document, None, path), str(path))
    return document
