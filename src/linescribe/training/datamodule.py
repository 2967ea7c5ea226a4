"""From samples to training batches: image loading, augmentation, preprocessing, bucketing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import cv2
import lightning as L
from lightning.fabric.utilities.seed import pl_worker_init_function
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from linescribe.alphabet import Alphabet
from linescribe.data.augment import Augmenter
from linescribe.data.batching import BucketBatchSampler, pad_batch
from linescribe.data.images import LINE_CACHE_BYTES, line_cache, load_sample_image
from linescribe.data.preprocess import Preprocessing
from linescribe.data.sample import Sample
from linescribe.data.synth import LineSynthesizer
from linescribe.errors import ImageError, LinescribeError

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[int], list["Unreadable"]]


class Unreadable(NamedTuple):
    """A line whose image could not be loaded when its batch was made: it is left out of the
    batch and travels beside it, so the main process can warn once and count it (the loader
    processes cannot: each sees a share of the batches, anew every epoch)."""

    index: int
    reason: str


class LineDataset(Dataset):
    """Lines as (preprocessed image (H, W) float32, label ids, index), or Unreadable.

    With a synthesizer, the indices after the real samples are synthetic lines: their texts are
    fixed (``synth_texts``), their images are rendered anew each time, so no two epochs see the
    same picture of a text.

    ``for_scoring``: validation lines, which may hold characters outside the alphabet (they are
    scored against their whole text, as ``eval`` scores them): their labels, which only the
    validation loss uses, leave those characters out.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        alphabet: Alphabet,
        preprocessing: Preprocessing,
        augmenter: Augmenter | None = None,
        synthesizer: LineSynthesizer | None = None,
        synth_texts: Sequence[str] = (),
        for_scoring: bool = False,
    ) -> None:
        self.samples = list(samples)
        self.for_scoring = for_scoring
        self.alphabet = alphabet
        self.preprocessing = preprocessing
        self.augmenter = augmenter
        self.synthesizer = synthesizer
        self.synth_texts = list(synth_texts)
        self.rank = 0
        self._rng: np.random.Generator | None = None

    def __len__(self) -> int:
        return len(self.samples) + len(self.synth_texts)

    @property
    def rng(self) -> np.random.Generator:
        # created lazily in each worker from its torch seed (derived from --seed, rank and worker);
        # the rank is mixed in again for loading in the main process, where all ranks share a seed
        if self._rng is None:
            self._rng = np.random.default_rng((torch.initial_seed() % 2**63, self.rank))
        return self._rng

    def __getitem__(self, index: int) -> tuple[np.ndarray, list[int], int] | Unreadable:
        if index >= len(self.samples):
            text = self.synth_texts[index - len(self.samples)]
            gray = self.synthesizer.render(text, self.rng)
        else:
            sample = self.samples[index]
            text = sample.text
            try:
                gray = load_sample_image(sample, line_cache)
            except ImageError as error:
                return Unreadable(index, str(error))
        if self.augmenter is not None:
            gray = self.augmenter(gray, self.rng)
        if self.for_scoring:
            text = "".join(char for char in text if char in self.alphabet)
        return self.preprocessing(gray), self.alphabet.encode(text), index


def _init_worker(worker_id: int, rank: int = 0) -> None:
    """Seed each loader process from (seed, rank, worker) as Lightning would, so DDP ranks augment
    differently; one OpenCV thread each, since the processes already share out the cores; and a
    share of the line cache each, so that --workers 8 keeps no more crops than one loader."""
    pl_worker_init_function(worker_id, rank)
    cv2.setNumThreads(1)
    info = get_worker_info()
    if info is not None:
        line_cache.max_bytes = LINE_CACHE_BYTES // info.num_workers


def collate(items: Sequence[tuple[np.ndarray, list[int], int] | Unreadable]) -> Batch:
    """images (N,1,H,W), widths (N,), targets (sum of label lengths,), target lengths (N,), indices,
    and the lines left out because their images could not be loaded."""
    unreadable = [item for item in items if isinstance(item, Unreadable)]
    items = [item for item in items if not isinstance(item, Unreadable)]
    if not items:
        empty = torch.zeros(0, dtype=torch.long)
        return torch.zeros(0, 1, 1, 1), empty, empty, empty, [], unreadable
    images, widths = pad_batch([image for image, _, _ in items])
    targets = torch.tensor([i for _, label, _ in items for i in label], dtype=torch.long)
    target_lengths = torch.tensor([len(label) for _, label, _ in items], dtype=torch.long)
    return images, widths, targets, target_lengths, [index for _, _, index in items], unreadable


class DistributedBuckets(BucketBatchSampler):
    """Bucketed batches split between DDP ranks: each rank takes every world_size-th batch, and all
    ranks take the same number of batches so that none waits for a gradient sync forever.

    ``current_epoch`` (the trainer's) orders each pass, rather than a count of the passes begun: a
    resumed run's loader can begin one that Lightning then drops (see ``LineDataModule._resume_position``).
    ``epoch_offset``: how far the order's epoch lies behind Lightning's count after a resume from a
    run cut short mid-epoch by its budget, which Lightning counts as a whole epoch.
    """

    def __init__(
        self, *args, rank: int = 0, world_size: int = 1, current_epoch: Callable[[], int] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rank, self.world_size = rank, world_size
        self.current_epoch = current_epoch
        self.epoch_offset = 0
        if len(self) == 0:  # each process would train on nothing, epoch after epoch
            raise LinescribeError(
                f"{super().__len__()} training batches cannot give each of the {world_size} processes one: "
                "give a smaller --batch-size or fewer --devices"
            )

    def _next_epoch(self) -> int:
        return self.current_epoch() + self.epoch_offset if self.current_epoch else self.epoch

    def __len__(self) -> int:
        return super().__len__() // self.world_size

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        batches = super().epoch_batches(epoch)
        per_rank = len(batches) // self.world_size
        return batches[self.rank :: self.world_size][:per_rank]


class LineDataModule(L.LightningDataModule):
    def __init__(
        self,
        train: LineDataset,
        val: LineDataset,
        train_widths: Sequence[int],
        val_widths: Sequence[int],
        batch_size: int,
        workers: int,
        seed: int,
        train_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.train_set, self.val_set = train, val
        self.train_widths, self.val_widths = list(train_widths), list(val_widths)
        self.batch_size, self.workers, self.seed = batch_size, workers, seed
        self.train_weights = train_weights

    def _loader(self, dataset: LineDataset, sampler: BucketBatchSampler) -> DataLoader:
        rank = self.trainer.global_rank if self.trainer else 0
        dataset.rank = rank
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=collate,
            num_workers=self.workers,
            persistent_workers=self.workers > 0,
            worker_init_fn=partial(_init_worker, rank=rank) if self.workers > 0 else None,
        )

    def _train_sampler(self) -> DistributedBuckets:
        trainer = self.trainer
        return DistributedBuckets(
            self.train_widths, self.batch_size, seed=self.seed, weights=self.train_weights,
            rank=trainer.global_rank if trainer else 0, world_size=trainer.world_size if trainer else 1,
            current_epoch=(lambda: trainer.current_epoch) if trainer else None,
        )

    def train_batches_per_epoch(self) -> int:
        """This process's training batches in an epoch, without building the loader."""
        return len(self._train_sampler())

    def train_dataloader(self) -> DataLoader:
        sampler = self._train_sampler()
        if self.trainer is not None:
            epoch, done = self._resume_position(len(sampler))
            sampler.resume(epoch, done)
            if done:  # the rest of a cut epoch, then the next epochs' orders in turn
                sampler.epoch_offset = epoch - self.trainer.current_epoch
        return self._loader(self.train_set, sampler)

    def _resume_position(self, batches: int) -> tuple[int, int]:
        """The epoch whose order the loader's first pass follows, and how many of its batches were
        trained: none in a new run; a resumed run goes on where it stopped. Read from the progress
        that Lightning restored before it asked for the loader (see LineRecognitionModule._schedule_steps)."""
        loop = self.trainer.fit_loop
        done = loop.epoch_loop.batch_progress.current.processed
        if not done:
            return self.trainer.current_epoch, 0
        # the epoch those batches were trained in: Lightning counts one cut short by --max-steps or
        # --max-time as completed
        epoch = loop.epoch_progress.current.started - 1
        if done >= batches:  # it stopped after the epoch's last batch: the pass is the next epoch's
            return epoch + 1, 0
        return epoch, done

    def val_dataloader(self) -> DataLoader:
        # validation is not split between ranks: every rank computes the same CER
        return self._loader(self.val_set, BucketBatchSampler(self.val_widths, self.batch_size, seed=0, noise=0.0))
