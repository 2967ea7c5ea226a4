"""Model files: everything about a trained model on disk, in one place.

A model file is self-describing: the weights plus a JSON document (architecture, hyper-parameters,
alphabet, preprocessing, training summary, metrics), in a ``.safetensors`` header or an exported
ONNX file's metadata, so any model loads with one call and loading never runs code from the file.

    document       the document and ``TrainedModel``, torch-free
    names          bundled models and what a user may type for a model
    opening        ``open_model(name_or_path, backend)``: the one way to get a ready model
    onnx_runtime   ``.onnx`` files on onnxruntime (no torch needed)
    weights        ``.safetensors`` files with PyTorch: ``save_model``, ``load_model_file``
    export         ONNX export, checked against PyTorch
    cache          where the onnx backend keeps its exports of ``.safetensors`` models

This package imports no torch; ``weights`` and ``export`` do, so they are imported by name.
"""

from linescribe.modelfile.document import TrainedModel
from linescribe.modelfile.names import DEFAULT_MODEL, bundled_models, resolve_model_path
from linescribe.modelfile.opening import BACKENDS, open_model, read_model_document

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "TrainedModel",
    "bundled_models",
    "open_model",
    "read_model_document",
    "resolve_model_path",
]
