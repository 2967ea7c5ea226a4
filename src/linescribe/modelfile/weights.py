"""The ``.safetensors`` model file with PyTorch: the weights, and in the header the model's JSON
document (see ``document``). Loading reads JSON and raw tensors only, so a model file from
anyone cannot run code when it is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from linescribe.errors import LinescribeError, ModelFileError
from linescribe.files import json_text, write_atomically
from linescribe.models import build_model
from linescribe.modelfile.document import (
    METADATA_KEY,
    TrainedModel,
    model_from_document,
    read_safetensors_document,
    read_safetensors_header,
)


def save_model(model: TrainedModel, path: str | Path, half: bool = False) -> Path:
    """Write ``model`` to ``path`` (``.safetensors``); ``half`` stores float weights as fp16."""
    path = Path(path)
    tensors = {}
    for name, tensor in model.net.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
        tensors[name] = tensor
    document = model.describe()
    document["storage"] = "float16" if half else "float32"
    # json_text: a dataset path that is not UTF-8 (kept in the training record) as an escape, not a lone surrogate
    data = safetensors_bytes(tensors, metadata={METADATA_KEY: json_text(document)})
    try:
        write_atomically(path, data)
    except OSError as error:
        raise ModelFileError(f"{path}: cannot write the model ({error.strerror or error}); the previous file is intact") from None
    return path


def load_model_file(path: str | Path) -> TrainedModel:
    """Rebuild the network named in the file and fill in its weights (no unpickling anywhere).

    The network is first built without memory (on the meta device) and its weight shapes are
    compared with the file's, so that a description asking for a network far larger than its
    weights (a damaged or crafted file) is refused before anything is allocated."""
    path = Path(path)
    header = read_safetensors_header(path)
    model = model_from_document(read_safetensors_document(path, header), None, path)
    arch = model.arch
    tensors = len(header) - 1  # less __metadata__
    if _structure(model.hparams) > tensors:  # 20,000 declared blocks took 25 s and 570 MB to build and refuse
        raise ModelFileError(f"{path}: its description asks for more layers than its {tensors} weights can fill")

    def build() -> torch.nn.Module:
        try:
            return build_model(arch, model.alphabet.num_classes, model.hparams, model.preprocessing)
        except LinescribeError as error:
            raise ModelFileError(f"{path}: {error}") from None

    with torch.device("meta"):
        expected = {name: tuple(tensor.shape) for name, tensor in build().state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
            missing, unexpected = set(expected) - set(shapes), set(shapes) - set(expected)
            if missing or unexpected:
                raise ModelFileError(
                    f"{path}: weights do not match architecture {arch!r} "
                    f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
                )
            for name, shape in shapes.items():
                if shape != expected[name]:
                    raise ModelFileError(
                        f"{path}: weight {name} has shape {shape}, architecture {arch!r} with "
                        f"{model.alphabet.num_classes} classes expects {expected[name]} (alphabet mismatch?)"
                    )
            state = {name: handle.get_tensor(name) for name in shapes}
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(f"{path}: damaged weights ({error})") from None
    net = build()
    dtypes = {name: tensor.dtype for name, tensor in net.state_dict().items()}
    for name, tensor in state.items():
        if dtypes[name].is_floating_point and not (tensor.is_floating_point() and bool(torch.isfinite(tensor).all())):
            problem = "is not finite everywhere" if tensor.is_floating_point() else f"is {tensor.dtype}, not floating point"
            raise ModelFileError(f"{path}: damaged weights (weight {name} {problem})")
    net.load_state_dict({name: tensor.to(dtypes[name]) for name, tensor in state.items()})
    model.net = net.eval()
    return model


def _structure(hparams: dict[str, Any]) -> int:
    """How many layers or blocks the hyper-parameters ask for, each of which needs at least one
    weight of its own: the entries of list settings (channels, pools, squeeze-excitation flags
    per block) and the depths (``*_depth``, ``*_layers``)."""

    def entries(value: Any) -> int:
        return sum(entries(item) for item in value) if isinstance(value, list) else 1

    counts = [entries(value) for value in hparams.values() if isinstance(value, list)]
    depths = [value for key, value in hparams.items() if key.endswith(("_depth", "_layers")) and isinstance(value, int)]
    return sum(counts) + sum(depths)
