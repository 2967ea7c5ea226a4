"""What every line recognition network shares: images and widths in, CTC log-probs out."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class LineNet(nn.Module):
    """Base class: a convolutional feature extractor, a BiLSTM over columns, a CTC output layer.

    Subclasses define ``features`` (N,1,H,W), widths (N,) -> (N,C,H',W') with C*H' = column_size,
    and say how many input columns make one output frame (``horizontal_stride``).
    """

    horizontal_stride: int = 1

    def __init__(self, num_classes: int, column_size: int, lstm_hidden: int, lstm_layers: int, dropout: float) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.rnn = nn.LSTM(
            column_size,
            lstm_hidden,
            num_layers=lstm_layers,
            bidirectional=True,
            dropout=dropout if lstm_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * lstm_hidden, num_classes)

    def features(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Number of output frames for input images of the given widths."""
        return torch.div(widths, self.horizontal_stride, rounding_mode="floor").clamp(min=1)

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (N,1,H,W) float, ink = 1, padded with 0; widths (N,) -> log-probs (T,N,C), lengths (N,)."""
        maps = self.features(images, widths)
        batch, channels, height, frames = maps.shape
        columns = maps.permute(3, 0, 1, 2).reshape(frames, batch, channels * height)
        lengths = self.output_lengths(widths).clamp(max=frames)
        if torch.jit.is_tracing() or bool((lengths != frames).any()):
            # packing keeps the backward direction from reading the padding of shorter lines; an
            # ONNX export (a trace) always packs, since the batches it will read are not known yet
            packed = pack_padded_sequence(columns, lengths.cpu(), enforce_sorted=False)
            sequence, _ = pad_packed_sequence(self.rnn(packed)[0], total_length=frames)
        else:
            sequence = self.rnn(columns)[0]
        logits = self.classifier(self.dropout(sequence))
        return logits.log_softmax(-1), lengths


def conv_block(in_channels: int, out_channels: int, kernel: int, batch_norm: bool) -> list[nn.Module]:
    """Conv (+ BN) + ReLU, padded so that the spatial size is kept."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=not batch_norm)
    ]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU(inplace=True))
    return layers
