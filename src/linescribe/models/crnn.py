"""``crnn``: the default architecture, a compact CRNN for variable-width lines.

Compared with ``seed`` it reads the line at 48 px instead of 64, keeps the line's own width
instead of a padded 800 px canvas, uses 3x3 convolutions with fewer channels, and folds the
remaining rows into the column features instead of pooling them away, which keeps vertical
detail at a fraction of the cost. The stride of 4 columns per frame leaves room for CTC's
blanks between repeated letters on tightly written lines.
"""

from __future__ import annotations

import torch
from torch import nn

from linescribe.data.preprocess import Preprocessing
from linescribe.models.base import LineNet, conv_block

CRNN_DEFAULTS = {
    "channels": [32, 64, 96, 96, 128],
    "pools": [[2, 2], [2, 2], [1, 1], [2, 1], [2, 1]],
    "lstm_hidden": 192,
    "lstm_layers": 2,
    "dropout": 0.25,
}
CRNN_PREPROCESSING = Preprocessing(height=48)


class CRNN(LineNet):
    """Conv blocks (3x3, BN, ReLU, max-pool) -> rows folded into columns -> 2-layer BiLSTM."""

    def __init__(
        self,
        num_classes: int,
        channels: list[int] = CRNN_DEFAULTS["channels"],
        pools: list[list[int]] = CRNN_DEFAULTS["pools"],
        lstm_hidden: int = 192,
        lstm_layers: int = 2,
        dropout: float = 0.25,
        preprocessing: Preprocessing = CRNN_PREPROCESSING,
    ) -> None:
        if len(channels) != len(pools):
            raise ValueError(f"crnn: {len(channels)} channel sizes but {len(pools)} pools")
        if any(size < 1 for pool in pools for size in pool):
            raise ValueError(f"crnn: pool sizes {pools} must be at least 1")
        height, stride = preprocessing.height, 1
        for pool_h, pool_w in pools:
            height //= pool_h
            stride *= pool_w
        if height < 1:
            raise ValueError(f"crnn: pools reduce a line height of {preprocessing.height} to nothing")
        super().__init__(num_classes, channels[-1] * height, lstm_hidden, lstm_layers, dropout)
        self.horizontal_stride = stride
        self.blocks = nn.ModuleList()
        self.pool_widths = [pool_w for _, pool_w in pools]
        previous = 1
        for out_channels, (pool_h, pool_w) in zip(channels, pools):
            layers = conv_block(previous, out_channels, 3, batch_norm=True)
            if (pool_h, pool_w) != (1, 1):
                layers.append(nn.MaxPool2d((pool_h, pool_w), (pool_h, pool_w)))
            self.blocks.append(nn.Sequential(*layers))
            previous = out_channels

    def features(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        """After each block the columns beyond a line's width are zeroed, so the next convolution
        sees the same zero padding as for the line alone: a line reads the same in any batch."""
        for block, pool_width in zip(self.blocks, self.pool_widths):
            images = block(images)
            widths = torch.div(widths, pool_width, rounding_mode="floor")
            columns = torch.arange(images.shape[-1], device=images.device)
            images = images * (columns[None, :] < widths[:, None]).to(images.dtype)[:, None, None, :]
        return images
