"""``seed``: the classic line model (fixed 64x800 input, 7 conv layers, 2x512 BiLSTM).

Kept as the reference point that the default architecture is measured against.
"""

from __future__ import annotations

import torch
from torch import nn

from linescribe.data.preprocess import Preprocessing
from linescribe.models.base import LineNet, conv_block

# (out_channels, kernel, batch_norm, pool (h, w) or None): 64x800 -> 1x100
SEED_LAYERS = (
    (64, 5, False, (2, 2)),
    (128, 5, False, (2, 2)),
    (128, 3, True, (2, 2)),
    (256, 3, False, (2, 1)),
    (256, 3, False, (2, 1)),
    (512, 3, True, (2, 1)),
    (512, 3, False, None),
)

SEED_DEFAULTS = {"lstm_hidden": 512, "lstm_layers": 2, "dropout": 0.0}
SEED_PREPROCESSING = Preprocessing(height=64, width=800)


class SeedNet(LineNet):
    """Every line is scaled into a 64x800 canvas, so every line has 100 output frames."""

    horizontal_stride = 8

    def __init__(
        self,
        num_classes: int,
        lstm_hidden: int = 512,
        lstm_layers: int = 2,
        dropout: float = 0.0,
        preprocessing: Preprocessing = SEED_PREPROCESSING,
    ) -> None:
        if (preprocessing.height, preprocessing.width) != (SEED_PREPROCESSING.height, SEED_PREPROCESSING.width):
            raise ValueError(
                f"seed: reads {SEED_PREPROCESSING.height}x{SEED_PREPROCESSING.width} canvases only, "
                f"not lines {preprocessing.height} px high and {preprocessing.width or 'variable'} wide"
            )
        super().__init__(num_classes, SEED_LAYERS[-1][0], lstm_hidden, lstm_layers, dropout)
        layers: list[nn.Module] = []
        channels = 1
        for out_channels, kernel, batch_norm, pool in SEED_LAYERS:
            layers += conv_block(channels, out_channels, kernel, batch_norm)
            if pool is not None:
                layers.append(nn.MaxPool2d(pool, pool))
            channels = out_channels
        self.cnn = nn.Sequential(*layers)

    def features(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        return self.cnn(images)

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        # the input canvas is always 800 wide: the padding is part of the line
        return torch.full_like(widths, SEED_PREPROCESSING.width // self.horizontal_stride)
