"""The export cache: where the onnx backend keeps the ONNX exports it makes of ``.safetensors``
models, named so that an entry is found without importing torch."""

from __future__ import annotations

import hashlib
import os
from importlib import metadata
from pathlib import Path

EXPORT_REVISION = 1
"""Part of every export cache entry's name: raise it when a change to the exporter or to an
architecture's forward pass changes what an export computes, so cached exports are made again."""


def cache_folder() -> Path:
    """Where exports made for the onnx backend are kept: ``$LINESCRIBE_CACHE``, else
    ``$XDG_CACHE_HOME/linescribe``, else ``~/.cache/linescribe`` (the temporary folder when there
    is no home, as for an arbitrary user id in a container)."""
    if os.environ.get("LINESCRIBE_CACHE"):
        return Path(os.environ["LINESCRIBE_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "linescribe"
    try:
        return Path.home() / ".cache" / "linescribe"
    except RuntimeError:
        import tempfile

        return Path(tempfile.gettempdir()) / f"linescribe-cache-{getattr(os, 'getuid', lambda: 'user')()}"


def export_cache_entry(model_path: Path) -> Path:
    """The cache file for the ONNX export of a ``.safetensors`` model: exported once, it is read
    by onnxruntime, 2-3x faster than PyTorch and steady on busy cores. Named by the file's
    content and the linescribe and torch versions, so an edited model or a new exporter exports
    again; found without importing torch."""
    from linescribe import __version__

    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:24]
    torch_version = metadata.version("torch").split("+")[0]
    return cache_folder() / "onnx" / f"{digest}-linescribe{__version__}-r{EXPORT_REVISION}-torch{torch_version}.onnx"
