"""Padding lines into batches, and grouping lines of similar width so little padding is wasted."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler


WIDTH_MULTIPLE = 32
"""Batch widths are rounded up to a multiple of this: far fewer distinct tensor shapes, so the
convolution kernels' per-shape caches stay small (memory) and warm (speed)."""


def pad_batch(images: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Preprocessed lines (H, W_i) float32 -> images (N,1,H,W) padded with 0 (paper), widths (N,).

    W is the widest line rounded up to WIDTH_MULTIPLE; the models ignore columns past each width.
    """
    height = images[0].shape[0]
    widths = torch.tensor([image.shape[1] for image in images], dtype=torch.long)
    padded_width = -(-int(widths.max()) // WIDTH_MULTIPLE) * WIDTH_MULTIPLE
    batch = torch.zeros(len(images), 1, height, padded_width, dtype=torch.float32)
    for index, image in enumerate(images):
        batch[index, 0, :, : image.shape[1]] = torch.from_numpy(image)
    return batch, widths


def width_sorted_batches(widths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of lines of similar width (inference: the order is restored after)."""
    order = np.argsort(np.asarray(widths), kind="stable")
    return [order[start : start + batch_size].tolist() for start in range(0, len(order), batch_size)]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of lines of similar width, in a new random order every epoch.

    Lines are sorted by width with a little noise (so batches differ between epochs), cut into
    batches, and the batches are shuffled. ``weights`` (per line) draw lines with replacement
    in proportion to their weight, which is how datasets given with ``path@weight`` are mixed.
    """

    def __init__(
        self,
        widths: Sequence[int],
        batch_size: int,
        seed: int = 0,
        weights: Sequence[float] | None = None,
        noise: float = 0.1,
    ) -> None:
        self.widths = np.asarray(widths, dtype=np.float64)
        self.batch_size = batch_size
        self.seed = seed
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        self.noise = noise
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.widths) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch))
        self.epoch += 1
        count = len(self.widths)
        if self.weights is None:
            indices = np.arange(count)
        else:
            indices = rng.choice(count, size=count, replace=True, p=self.weights / self.weights.sum())
        jitter = 1.0 + self.noise * rng.uniform(-1.0, 1.0, size=len(indices))
        indices = indices[np.argsort(self.widths[indices] * jitter, kind="stable")]
        batches = [indices[start : start + self.batch_size].tolist() for start in range(0, len(indices), self.batch_size)]
        for position in rng.permutation(len(batches)):
            yield batches[position]
