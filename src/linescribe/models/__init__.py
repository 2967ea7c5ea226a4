"""Architecture registry: one name -> factory, its default hyper-parameters and preprocessing.

The network is built from the model's preprocessing (its line height sets the feature size), so
the height a model reads at has one source: ``Preprocessing``, stored in the model file.

A new architecture is a module here plus one entry in ARCHITECTURES; it then appears in
``linescribe train --arch`` and in the tests that loop over the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from linescribe.data.preprocess import Preprocessing
from linescribe.errors import ModelFileError
from linescribe.models.base import LineNet
from linescribe.models.crnn import CRNN, CRNN_DEFAULTS, CRNN_PREPROCESSING
from linescribe.models.ppocr import (
    PPOCR,
    PPOCR_DEFAULTS,
    PPOCR_PREPROCESSING,
    PPOCR_TINY_DEFAULTS,
    PPOCR_TINY_PREPROCESSING,
    PPOCRTiny,
)
from linescribe.models.seed import SEED_DEFAULTS, SEED_PREPROCESSING, SeedNet


WEIGHTLESS_HPARAMS = frozenset({"dropout"})
"""Hyper-parameters that shape no weight: a fine-tune (``--init``) may set them anew."""


def weight_shaping(hparams: dict[str, Any]) -> dict[str, Any]:
    """The hyper-parameters that two models must share for one's weights to fit the other."""
    return {name: value for name, value in hparams.items() if name not in WEIGHTLESS_HPARAMS}


@dataclass(frozen=True)
class Architecture:
    name: str
    factory: Callable[..., LineNet]
    defaults: dict[str, Any]
    preprocessing: Preprocessing
    description: str
    tiny: dict[str, Any] = field(default_factory=dict)
    """Hyper-parameters for a fast toy version, used by the tests."""


ARCHITECTURES: dict[str, Architecture] = {
    "crnn": Architecture(
        "crnn",
        CRNN,
        CRNN_DEFAULTS,
        CRNN_PREPROCESSING,
        "default: variable-width 48 px lines, 5 conv blocks, 2x192 BiLSTM (~2.1 M parameters)",
        tiny={"channels": [8, 16, 16], "pools": [[2, 2], [2, 2], [2, 1]], "lstm_hidden": 32, "lstm_layers": 1},
    ),
    "seed": Architecture(
        "seed",
        SeedNet,
        SEED_DEFAULTS,
        SEED_PREPROCESSING,
        "classic: fixed 64x800 input, 7 conv layers, 2x512 BiLSTM (~15 M parameters)",
        tiny={"lstm_hidden": 16, "lstm_layers": 1},
    ),
    "ppocr": Architecture(
        "ppocr",
        PPOCR,
        PPOCR_DEFAULTS,
        PPOCR_PREPROCESSING,
        "PP-OCRv6 small (PaddleOCR): conv backbone + transformer neck, 48 px lines stretched 2x (~3.0 M parameters); "
        "start it from recipes/ppocr/convert.py's model with --init",
        tiny={
            "stem_channels": 8,
            "channels": [8, 16],
            "se": [[True], [False, True]],
            "neck_dim": 16,
            "neck_depth": 1,
            "neck_heads": 2,
        },
    ),
    "ppocr_tiny": Architecture(
        "ppocr_tiny",
        PPOCRTiny,
        PPOCR_TINY_DEFAULTS,
        PPOCR_TINY_PREPROCESSING,
        "PP-OCRv6 tiny (PaddleOCR): conv backbone + conv neck, 48 px lines stretched 2x (~0.55 M parameters); "
        "start it from recipes/ppocr/convert.py's model with --init",
        tiny={"stem_channels": 8, "channels": [8, 12], "se": [[True], [False, True]], "embed_dim": 8},
    ),
}


def resolve_hparams(arch: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The architecture's defaults updated with ``overrides``; unknown names are refused."""
    spec = get_architecture(arch)
    unknown = set(overrides or {}) - set(spec.defaults)
    if "input_height" in unknown:
        raise ModelFileError("the line height is not a hyper-parameter: use --line-height (train) or Preprocessing.height")
    if unknown:
        raise ModelFileError(f"architecture {arch!r} has no hyper-parameters {sorted(unknown)}; it has {sorted(spec.defaults)}")
    return {**spec.defaults, **(overrides or {})}


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ModelFileError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}") from None


def build_model(
    arch: str, num_classes: int, hparams: dict[str, Any] | None = None, preprocessing: Preprocessing | None = None
) -> LineNet:
    """A freshly initialised network of the named architecture for lines preprocessed by
    ``preprocessing`` (default: the architecture's)."""
    spec = get_architecture(arch)
    settings = resolve_hparams(arch, hparams)
    try:
        return spec.factory(num_classes, preprocessing=preprocessing or spec.preprocessing, **settings)
    except Exception as error:  # any settings a file may hold: wrong types, zero sizes, ...
        raise ModelFileError(f"architecture {arch!r} cannot be built with these settings ({type(error).__name__}: {error})") from None
