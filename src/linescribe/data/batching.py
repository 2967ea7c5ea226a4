"""Padding lines into batches, and grouping lines of similar width so little padding is wasted.

numpy only (torch is imported by ``pad_batch`` alone), so that onnxruntime inference runs
where torch is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


WIDTH_MULTIPLE = 32
"""Batch widths are rounded up to a multiple of this: far fewer distinct tensor shapes, so the
convolution kernels' per-shape caches stay small (memory) and warm (speed)."""


def padded_width(width: int, multiple: int = WIDTH_MULTIPLE) -> int:
    return -(-width // multiple) * multiple


def pad_lines(images: Sequence[np.ndarray], multiple: int = WIDTH_MULTIPLE) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed lines (H, W_i) float32 -> images (N,1,H,W) float32 padded with 0 (paper),
    widths (N,) int64.

    W is the widest line rounded up to ``multiple``; the models ignore columns past each width.
    """
    height = images[0].shape[0]
    widths = np.array([image.shape[1] for image in images], dtype=np.int64)
    batch = np.zeros((len(images), 1, height, padded_width(int(widths.max()), multiple)), dtype=np.float32)
    for index, image in enumerate(images):
        batch[index, 0, :, : image.shape[1]] = image
    return batch, widths


def pad_batch(images: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """``pad_lines`` as torch tensors: images (N,1,H,W), widths (N,)."""
    import torch

    batch, widths = pad_lines(images)
    return torch.from_numpy(batch), torch.from_numpy(widths)


def width_sorted_batches(widths: Sequence[int], batch_size: int, max_padding: float | None = None) -> list[list[int]]:
    """Indices in batches of lines of similar width (inference: the order is restored after).

    ``max_padding`` also closes a batch early where the next, wider line would make the padded
    batch more than that fraction larger than its lines (0.25: 25 % of the computation wasted on
    padding at most), so the few very wide or very narrow lines do not slow a whole batch down.
    Each line counts at its width rounded up to WIDTH_MULTIPLE, the least it costs even alone:
    counted at its own width, lines of equal width 40 looked 60 % padded and were read one by one.
    """
    order = np.argsort(np.asarray(widths), kind="stable").tolist()
    if max_padding is None:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    batch: list[int] = []
    columns = 0
    for index in order:
        width = padded_width(int(widths[index]))
        too_padded = (len(batch) + 1) * width > (1.0 + max_padding) * (columns + width)
        if batch and (len(batch) == batch_size or too_padded):
            batches.append(batch)
            batch, columns = [], 0
        batch.append(index)
        columns += width
    if batch:
        batches.append(batch)
    return batches


class BucketBatchSampler:
    """Batches of lines of similar width, in a new random order every epoch.

    Lines are sorted by width with a little noise (so batches differ between epochs), cut into
    batches, and the batches are shuffled. ``weights`` (per line) draw lines with replacement
    in proportion to their weight, which is how datasets given with ``path@weight`` are mixed.
    It is what a DataLoader takes as ``batch_sampler``: an iterable of index lists with a length.
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
        self._resume: tuple[int, int] | None = None

    def resume(self, epoch: int, done: int) -> None:
        """Make the next pass ``epoch``'s batches less its first ``done``: a run resumed in the middle
        of an epoch trains the rest of that epoch's (seeded, so the same) order, not its start again."""
        self._resume = (epoch, done)

    def __len__(self) -> int:
        return (len(self.widths) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        # a generator: the pass is decided when its first batch is drawn, not when a loader asks
        # for it (PyTorch's worker loader asks twice, and draws from the second only)
        epoch, done = self._resume or (self._next_epoch(), 0)
        self._resume = None
        self.epoch = epoch + 1
        yield from self.epoch_batches(epoch)[done:]

    def _next_epoch(self) -> int:
        return self.epoch

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The batches of ``epoch``, in the order they are trained."""
        rng = np.random.default_rng((self.seed, epoch))
        count = len(self.widths)
        if self.weights is None:
            indices = np.arange(count)
        else:
            indices = rng.choice(count, size=count, replace=True, p=self.weights / self.weights.sum())
        jitter = 1.0 + self.noise * rng.uniform(-1.0, 1.0, size=len(indices))
        indices = indices[np.argsort(self.widths[indices] * jitter, kind="stable")]
        batches = [indices[start : start + self.batch_size].tolist() for start in range(0, len(indices), self.batch_size)]
        return [batches[position] for position in rng.permutation(len(batches))]
