"""Opening a model file for a backend: the one way a ``.safetensors`` or ``.onnx`` file, a bundled
model's name or a training run's folder becomes a ready ``TrainedModel``.

Backends: ``torch`` (PyTorch; a ``.safetensors`` file only), ``onnx`` (onnxruntime: an ``.onnx``
file, the export shipped beside a bundled model, or a ``.safetensors`` model exported once into
the export cache), ``auto`` (onnx on the CPU, 2-3x faster and steady on busy cores; PyTorch for
another device, or, with a warning, for a model whose export fails its check).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from linescribe.errors import LinescribeError, ModelFileError
from linescribe.modelfile.cache import export_cache_entry
from linescribe.modelfile.document import TrainedModel, model_from_document, read_safetensors_document
from linescribe.modelfile.names import onnx_twin, resolve_model_path
from linescribe.modelfile.onnx_runtime import is_onnx_file, load_onnx_model, read_onnx_document

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")
"""``auto``: onnxruntime on the CPU (a ``.safetensors`` model is exported once, then cached),
PyTorch on another device."""


def torch_installed() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def read_model_document(path_or_name: str | Path | None) -> dict[str, Any]:
    """The JSON document of a model (file, bundled name or run folder), without loading its
    network; checked as loading checks it, so a file that would not load is refused here too."""
    path = resolve_model_path(path_or_name)
    document = read_onnx_document(path) if is_onnx_file(path) else read_safetensors_document(path)
    model_from_document(document, None, path)
    return document


def open_model(
    path_or_name: str | Path | None = None, backend: str = "auto", threads: int | None = None, device: str = "cpu"
) -> TrainedModel:
    """The model in a ``.safetensors`` or ``.onnx`` file (or a bundled model, or the default
    model when None), with its network on ``backend`` (see BACKENDS); ``model.backend`` says
    which one ``auto`` chose. ``threads``: the network's CPU threads (torch: process-wide)."""
    if backend not in BACKENDS:
        raise LinescribeError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    path = resolve_model_path(path_or_name)
    chosen = backend
    if backend == "auto":
        chosen = "onnx" if device == "cpu" or is_onnx_file(path) or not torch_installed() else "torch"
    twin = onnx_twin(path)
    if chosen == "onnx" and twin is not None:
        path = twin  # a bundled model's shipped export: nothing to export
    if is_onnx_file(path):
        if chosen == "torch":
            raise ModelFileError(f"{path}: an ONNX model runs on the onnx backend, not torch (use --backend onnx or auto)")
        return load_onnx_model(path, threads)
    if not torch_installed():
        raise ModelFileError(
            f"{path}: a .safetensors model needs torch, which is not installed (pip install 'linescribe[train]'); "
            "or read an ONNX export of it (`linescribe export MODEL -o model.onnx`, where torch is installed)"
        )
    if chosen == "onnx":
        exported = _cached_export(path, threads, fall_back=backend == "auto")
        if exported is not None:
            return exported
    from linescribe.modelfile.weights import load_model_file

    if threads:
        import torch

        torch.set_num_threads(threads)
    return load_model_file(path)


def _cached_export(path: Path, threads: int | None, fall_back: bool) -> TrainedModel | None:
    """The onnx-backend model of a ``.safetensors`` file from the export cache, exporting it on
    first use. A cache that cannot be read or written costs only the export. None (after a
    warning) when the export cannot be made or fails its check and ``fall_back`` allows PyTorch."""
    entry = export_cache_entry(path)
    name = read_safetensors_document(path).get("name") or path.stem  # as load_model_file names it
    try:
        model = load_onnx_model(entry.read_bytes(), threads, origin=str(path))
    except (OSError, ModelFileError):  # not cached yet, a damaged entry, or a cache we may not read
        model = None
    if model is None:
        if importlib.util.find_spec("onnx") is None:  # torch is there, the [train] extra is not
            if not fall_back:
                raise ModelFileError(f"{path}: exporting it for onnxruntime needs the onnx package (pip install 'linescribe[train]')")
            logger.debug("%s: no onnx package to export it with; reading it with PyTorch", path)
            return None
        from linescribe.modelfile.export import export_to_cache
        from linescribe.modelfile.weights import load_model_file

        trained = load_model_file(path)  # a damaged file is refused as it is, not "read with PyTorch instead"
        try:
            data = export_to_cache(trained, entry, source=path)
        except Exception as error:  # noqa: BLE001 (the check's ExportError, or an exporter that cannot run)
            failure = error if isinstance(error, LinescribeError) else ModelFileError(
                f"{path}: cannot export to ONNX ({type(error).__name__}: {error})"
            )
            if not fall_back:
                raise failure from None
            logger.warning("%s; reading it with PyTorch instead (slower)", failure)
            return None
        model = load_onnx_model(data, threads, origin=str(path))
    model.name = name
    return model
