"""The LightningModule: CTC loss, optimiser and schedule, and CER/WER on the validation set.

The network itself (``models/``) knows nothing of Lightning.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from linescribe.alphabet import Alphabet
from linescribe.data.preprocess import Preprocessing
from linescribe.decoding import greedy_decode
from linescribe.errors import LinescribeError
from linescribe.metrics import ErrorRates
from linescribe.models import build_model
from linescribe.modelfile import TrainedModel
from linescribe.training.datamodule import Batch

SCHEDULE_LENGTH = {"onecycle": "total_steps", "cosine": "T_max"}
"""The state of each schedule laid out over the whole run that holds its length in steps."""


def frames_needed(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """The fewest output frames CTC can write each label in: one per character, and a blank
    between two equal neighbours ("ll"), as ``prepare_lines`` counts them. On the device, with
    no copy to the host (a sync per step on a GPU)."""
    lines = torch.arange(len(target_lengths), device=targets.device)
    line = torch.repeat_interleave(lines, target_lengths, output_size=len(targets))  # each character's label
    repeated = (targets[1:] == targets[:-1]) & (line[1:] == line[:-1])
    return target_lengths + torch.zeros_like(target_lengths).index_add_(0, line[1:], repeated.long())


class LineRecognitionModule(L.LightningModule):
    def __init__(
        self,
        arch: str,
        hparams: dict[str, Any],
        alphabet: list[str],
        preprocess: dict[str, Any],
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        scheduler: str = "onecycle",
        val_texts: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["val_texts"])
        self.alphabet = Alphabet(alphabet)
        self.preprocessing = Preprocessing.from_dict(preprocess)
        self.net = build_model(arch, self.alphabet.num_classes, hparams, self.preprocessing)
        self.net.to(memory_format=torch.channels_last)  # ~20 % faster convolutions on CPU
        self.val_texts = val_texts or []
        self._val_rates = ErrorRates()
        self._restored_schedule_steps: int | None = None

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(images.contiguous(memory_format=torch.channels_last), widths)

    def _loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images, widths, targets, target_lengths, _, _ = batch
        log_probs, lengths = self(images, widths)
        # a line whose frames cannot hold its label (e.g. squeezed by augmentation) has an
        # infinite loss: it is zeroed rather than allowed to poison the batch, and counted
        loss = F.ctc_loss(log_probs.float(), targets, lengths, target_lengths, blank=0, reduction="mean", zero_infinity=True)
        return loss, log_probs, lengths

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        if not batch[4]:
            # every image of the batch was unreadable: a zero loss still joins the DDP gradient sync
            return sum(parameter.sum() for parameter in self.net.parameters()) * 0.0
        loss, _, lengths = self._loss(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch[4]))
        too_short = (lengths < frames_needed(batch[2], batch[3])).sum().float()
        self.log("train_lines_too_short", too_short, reduce_fx="sum", batch_size=len(batch[4]))
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_rates = ErrorRates()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        indices = batch[4]
        if not indices:
            return
        loss, log_probs, lengths = self._loss(batch)
        self.log("val_loss", loss, prog_bar=False, batch_size=len(indices), sync_dist=True)
        for index, hypothesis in zip(indices, greedy_decode(log_probs, lengths, self.alphabet)):
            self._val_rates.add(self.val_texts[index], hypothesis.text)

    def on_validation_epoch_end(self) -> None:
        if not self._val_rates.lines:
            # every rank reads every validation line: none read means no CER to stop or keep the best by
            raise LinescribeError("validation read no line: every validation image failed to load (see the warnings above)")
        self.log("val_cer", self._val_rates.cer, prog_bar=True)
        self.log("val_wer", self._val_rates.wer, prog_bar=True)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lightning restores the schedule's state, its length included, after configure_optimizers
        key = SCHEDULE_LENGTH.get(self.hparams.scheduler)
        if key and checkpoint.get("lr_schedulers"):
            self._restored_schedule_steps = checkpoint["lr_schedulers"][0][key]

    def _schedule_steps(self) -> int:
        """The optimiser steps of the whole run, as Lightning's ``estimated_stepping_batches`` counts
        them but from the datamodule's batch count: Lightning's builds the training loader at once,
        before a resumed run's progress is restored, and the loader must start where the run stopped
        (``LineDataModule.train_dataloader``)."""
        trainer = self.trainer
        if trainer.max_epochs == -1:  # TrainConfig refuses these schedules without --max-steps then
            return trainer.max_steps
        steps = trainer.datamodule.train_batches_per_epoch() * trainer.max_epochs
        return max(min(steps, trainer.max_steps) if trainer.max_steps != -1 else steps, 1)

    def configure_optimizers(self) -> Any:
        params = self.net.parameters()
        if self.hparams.optimizer == "rmsprop":
            optimizer = torch.optim.RMSprop(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        else:
            optimizer = torch.optim.AdamW(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        schedule = self.hparams.scheduler
        if schedule == "constant":
            return optimizer
        if schedule == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=3)
            # stepped at the ends of the epochs that validate (--val-every 2: every other one); an
            # epoch that ends with no val_cer yet (the first after a resume) leaves it unchanged
            frequency = self.trainer.check_val_every_n_epoch or 1
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "val_cer", "frequency": frequency, "strict": False},
            }
        steps = self._schedule_steps()
        if self._restored_schedule_steps not in (None, steps):
            # raised before the loops are restored (global step 0), so CheckpointOnInterrupt keeps last.ckpt
            raise LinescribeError(
                f"{self.trainer.ckpt_path}: cannot resume: its {schedule} learning-rate schedule was laid out over "
                f"{self._restored_schedule_steps} steps, the run now comes to {steps} (its training lines, --devices or "
                "--num-nodes changed since it started); resume it with the lines and devices it started with, or start a new run "
                "from its model with --init"
            )
        if schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        else:
            # OneCycleLR divides by pct_start * steps - 1, which is 0 for a 10-step run at 0.1
            warm_up = 0.1 if steps != 10 else 0.15
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.hparams.lr, total_steps=steps, pct_start=warm_up, anneal_strategy="cos"
            )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def trained_model(self, training: dict[str, Any], metrics: dict[str, Any]) -> TrainedModel:
        """The network as a self-describing model, ready for ``save_model``."""
        net = build_model(self.hparams.arch, self.alphabet.num_classes, self.hparams.hparams, self.preprocessing)
        net.load_state_dict({name: t.contiguous() for name, t in self.net.state_dict().items()})
        net.eval()
        return TrainedModel(
            net=net,
            arch=self.hparams.arch,
            hparams=dict(self.hparams.hparams),
            alphabet=self.alphabet,
            preprocessing=self.preprocessing,
            training=training,
            metrics=metrics,
        )
