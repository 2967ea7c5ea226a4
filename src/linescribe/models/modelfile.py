"""Model files: one ``.safetensors`` file holding the weights and, in its header, a JSON document
(architecture, hyper-parameters, alphabet, preprocessing, training summary, metrics).

Loading reads JSON and raw tensors only, so a model file from anyone cannot run code, and any
model trained by any user loads with one call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from linescribe.alphabet import Alphabet
from linescribe.data.preprocess import Preprocessing
from linescribe.errors import LinescribeError, ModelFileError
from linescribe.files import write_atomically
from linescribe.models import build_model, get_architecture
from linescribe.models.base import LineNet

FORMAT_NAME = "linescribe.model"
FORMAT_VERSION = 1
METADATA_KEY = "linescribe"


@dataclass
class TrainedModel:
    """A network together with everything needed to feed it and read its output."""

    net: LineNet
    arch: str
    hparams: dict[str, Any]
    alphabet: Alphabet
    preprocessing: Preprocessing
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def describe(self) -> dict[str, Any]:
        """The JSON document stored in the file."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "arch": self.arch,
            "hparams": self.hparams,
            "alphabet": self.alphabet.chars,
            "preprocess": self.preprocessing.to_dict(),
            "training": self.training,
            "metrics": self.metrics,
        }


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
    write_atomically(path, safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(document, ensure_ascii=False)}))
    return path


def read_model_document(path: str | Path) -> dict[str, Any]:
    """The JSON document of a model file, without loading its weights."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not a safetensors model file ({error})") from None
    if METADATA_KEY not in metadata:
        raise ModelFileError(f"{path}: safetensors file without linescribe metadata (not a linescribe model)")
    try:
        document = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: damaged model description ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: model description has no '{FORMAT_NAME}' format tag")
    if document.get("version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {document['version']} is newer than this linescribe supports")
    return document


def load_model_file(path: str | Path) -> TrainedModel:
    """Rebuild the network named in the file and fill in its weights (no unpickling anywhere)."""
    path = Path(path)
    document = read_model_document(path)
    try:
        arch = document["arch"]
        get_architecture(arch)
        alphabet = Alphabet(document["alphabet"])
        preprocessing = Preprocessing.from_dict(document["preprocess"])
        hparams = dict(document.get("hparams", {}))
        net = build_model(arch, alphabet.num_classes, hparams)
    except KeyError as error:
        raise ModelFileError(f"{path}: model description lacks {error}") from None
    except LinescribeError as error:
        raise ModelFileError(f"{path}: {error}") from None
    state: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():
                state[name] = handle.get_tensor(name)
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelFileError(f"{path}: damaged weights ({error})") from None
    expected = net.state_dict()
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: weights do not match architecture {arch!r} "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise ModelFileError(
                f"{path}: weight {name} has shape {tuple(tensor.shape)}, architecture {arch!r} with "
                f"{alphabet.num_classes} classes expects {tuple(expected[name].shape)} (alphabet mismatch?)"
            )
        state[name] = tensor.to(expected[name].dtype)
    net.load_state_dict(state)
    net.eval()
    return TrainedModel(
        net=net,
        arch=arch,
        hparams=hparams,
        alphabet=alphabet,
        preprocessing=preprocessing,
        training=document.get("training", {}),
        metrics=document.get("metrics", {}),
        name=document.get("name", "") or path.stem,
    )
