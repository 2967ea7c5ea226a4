"""Model names and paths: the models that ship in the package (``linescribe/pretrained``, so that
``predict`` works right after install) and what a user may type for a model: a bundled name, a
file, or a training run's folder."""

from __future__ import annotations

from pathlib import Path

from linescribe.errors import ModelFileError

PRETRAINED_DIR = Path(__file__).parent.parent / "pretrained"
DEFAULT_MODEL = "default"


def bundled_models() -> dict[str, Path]:
    """Name -> file of every model in the package (``<name>.safetensors``; see ``onnx_twin``)."""
    return {path.stem: path for path in sorted(PRETRAINED_DIR.glob("*.safetensors"))}


def onnx_twin(model_path: Path) -> Path | None:
    """The ONNX export shipped beside a bundled model (``<name>.onnx``, the same weights), which
    reads lines where torch is not installed; None for other models."""
    twin = model_path.with_suffix(".onnx")
    if model_path.suffix != ".safetensors" or model_path.parent.resolve() != PRETRAINED_DIR.resolve() or not twin.is_file():
        return None
    return twin


MODEL_SUFFIXES = (".safetensors", ".onnx")
RUN_MODEL_FILE = "model.safetensors"
"""The model a training run's folder holds (its best so far)."""


def _run_folder_model(path: Path) -> Path | None:
    """The model file of a training run's folder, or None when ``path`` is not one."""
    model = path / RUN_MODEL_FILE
    return model if path.is_dir() and model.is_file() else None


def names_a_model(item: str) -> bool:
    """Whether a command-line argument is a model rather than something to read: a model file, a
    run folder holding one, or a bundled model's name (where no file or folder has that name)."""
    path = Path(item)
    if path.suffix in MODEL_SUFFIXES or _run_folder_model(path):
        return True
    return item in bundled_models() and not path.exists()


def resolve_model_path(path_or_name: str | Path | None) -> Path:
    """A path to a model file (``.safetensors`` or ``.onnx``) from a path, a bundled model name, or
    None for the default model."""
    models = bundled_models()
    if path_or_name is None:
        return models[DEFAULT_MODEL]
    path = Path(path_or_name)
    if run_model := _run_folder_model(path):
        return run_model
    if path.suffix not in MODEL_SUFFIXES and str(path_or_name) in models:
        return models[str(path_or_name)]  # a bundled name, even where a folder or file has that name
    if path.suffix in MODEL_SUFFIXES or path.exists():
        if not path.is_file():
            raise ModelFileError(f"{path}: model file not found")
        return path
    known = ", ".join(models) or "none bundled"
    raise ModelFileError(f"{path_or_name}: no such model file, and no bundled model of that name (bundled: {known})")
