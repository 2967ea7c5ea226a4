"""The models and language models that ship inside the package (data only: ``modelfile.names``
resolves their names)."""
# TEMPORARY shim while issue 14 moves the model file code into ``linescribe.modelfile``.
from linescribe.modelfile.names import DEFAULT_MODEL, PRETRAINED_DIR, bundled_models, onnx_twin, resolve_model_path  # noqa: F401,E402
