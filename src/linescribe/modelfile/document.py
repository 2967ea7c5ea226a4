"""A trained model as the rest of linescribe sees it: the network and the JSON document that
describes it (architecture, alphabet, preprocessing, training, metrics).

The same document travels in a ``.safetensors`` header and in an exported ONNX file's metadata,
so both load into a ``TrainedModel``. This module imports no torch, because reading an exported
ONNX model must work where torch is not installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linescribe.alphabet import Alphabet
from linescribe.data.preprocess import Preprocessing
from linescribe.errors import LinescribeError, ModelFileError

if TYPE_CHECKING:
    from linescribe.models.base import LineNet
    from linescribe.modelfile.onnx_runtime import OnnxNet

FORMAT_NAME = "linescribe.model"
FORMAT_VERSION = 1
METADATA_KEY = "linescribe"
"""The key of the JSON document, in a safetensors header and in an ONNX file's metadata_props."""


@dataclass
class TrainedModel:
    """A network together with everything needed to feed it and read its output.

    ``net`` is a PyTorch ``LineNet`` (from a ``.safetensors`` file) or an ``OnnxNet`` (an
    onnxruntime session, from an exported ``.onnx`` file).
    """

    net: LineNet | OnnxNet
    arch: str
    hparams: dict[str, Any]
    alphabet: Alphabet
    preprocessing: Preprocessing
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def backend(self) -> str:
        """Which backend runs ``net``: ``onnx`` (an onnxruntime session) or ``torch``."""
        from linescribe.modelfile.onnx_runtime import OnnxNet

        return "onnx" if isinstance(self.net, OnnxNet) else "torch"

    @property
    def text_rules(self) -> list[str]:
        """The text rules its training applied to the transcriptions (``eval`` applies them to the
        references too)."""
        return trained_text_rules(self.training)

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


def trained_text_rules(training: dict[str, Any]) -> list[str]:
    """The text rules a model's training record says its training applied; none when it does not
    say, or says it in another shape."""
    config = training.get("config")
    rules = config.get("text_rules") if isinstance(config, dict) else None
    return [rule for rule in rules if isinstance(rule, str)] if isinstance(rules, list) else []


def parse_document(text: str, path: str | Path) -> dict[str, Any]:
    """The model document from its JSON text, checked for the format tag and version."""
    if not isinstance(text, (str, bytes)):
        raise ModelFileError(f"{path}: damaged model description (a {type(text).__name__}, not JSON text)")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:  # malformed, nested past Python's stack, a number too long
        raise ModelFileError(f"{path}: damaged model description ({type(error).__name__}: {str(error)[:200]})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: model description has no '{FORMAT_NAME}' format tag")
    version = document.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path}: damaged model description (version {version!r} is not a whole number)")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {document['version']} is newer than this linescribe supports")
    return document


def read_safetensors_header(path: str | Path) -> dict[str, Any]:
    """The JSON header of a ``.safetensors`` file (tensor names, shapes, ``__metadata__``), read
    without torch or the safetensors package: model documents, parameter counts."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if size > 100_000_000 or size > path.stat().st_size:
                raise ValueError("header larger than the file")
            header = json.loads(handle.read(size))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
        for name, entry in header.items():
            if name != "__metadata__" and not (
                isinstance(entry, dict)
                and isinstance(entry.get("dtype"), str)
                and isinstance(entry.get("shape"), list)
                and all(isinstance(side, int) and side >= 0 for side in entry["shape"])
            ):
                raise ValueError(f"tensor {name[:80]!r} has no valid shape and dtype")
    except (OSError, ValueError, RecursionError) as error:
        raise ModelFileError(f"{path}: not a safetensors model file ({str(error)[:200]})") from None
    return header


def read_safetensors_document(path: str | Path, header: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model document in a ``.safetensors`` file's header (``info`` in the core install,
    naming cached exports, ``load_model_file``); ``header``: the file's, when already read."""
    metadata = (read_safetensors_header(path) if header is None else header).get("__metadata__")
    if not isinstance(metadata, dict) or METADATA_KEY not in metadata:
        raise ModelFileError(f"{path}: safetensors file without linescribe metadata (not a linescribe model)")
    return parse_document(metadata[METADATA_KEY], path)


DOCUMENT_FIELDS = {"arch": str, "name": str, "hparams": dict, "training": dict, "metrics": dict}
"""The document's fields whose type the rest of linescribe takes for granted."""


def model_from_document(document: dict[str, Any], net: Any, path: str | Path) -> TrainedModel:
    """A TrainedModel of ``net`` with the description in ``document``; missing or bad fields name the file."""
    try:
        for key, kind in DOCUMENT_FIELDS.items():
            if key in document and not isinstance(document[key], kind):
                raise TypeError(f"{key} is a {type(document[key]).__name__}, not a {kind.__name__}")
        hparams = dict(document.get("hparams", {}))
        preprocessing = Preprocessing.from_dict(document["preprocess"])
        # earlier files could also state the line height as a hyper-parameter: it must agree
        stated_height = hparams.pop("input_height", preprocessing.height)
        if stated_height != preprocessing.height:
            raise ValueError(f"hparams.input_height {stated_height} disagrees with preprocess.height {preprocessing.height}")
        return TrainedModel(
            net=net,
            arch=document["arch"],
            hparams=hparams,
            alphabet=Alphabet(document["alphabet"]),
            preprocessing=preprocessing,
            training=document.get("training", {}),
            metrics=document.get("metrics", {}),
            name=document.get("name", "") or Path(path).stem,
        )
    except KeyError as error:
        raise ModelFileError(f"{path}: model description lacks {error}") from None
    except LinescribeError as error:
        raise ModelFileError(f"{path}: {error}") from None
    except (TypeError, ValueError) as error:  # a field of the wrong type, e.g. hparams not a mapping
        raise ModelFileError(f"{path}: damaged model description ({error})") from None
