"""Lightning plug-ins that make training safe to interrupt and its result usable at once."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from linescribe.errors import LinescribeError
from linescribe.modelfile.weights import save_model
from linescribe.training.checkpoints import CheckpointError, read_checkpoint, write_checkpoint

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints are written to a temporary file and renamed, so a crash or a full disk during
    the write leaves the previous checkpoint intact; each carries a checksum checked on resume."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        write_checkpoint(checkpoint, Path(path))

    def load_checkpoint(self, path: str | Path, map_location: Any = "cpu", weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(Path(path), map_location)


class BestAndLastCheckpoint(ModelCheckpoint):
    """``best.ckpt`` at each better validation CER, and ``last.ckpt`` at every validation.

    Lightning 2.6 writes ``last`` only beside a new best, so a run killed (or out of memory)
    resumed from its last improvement and trained every step since again, and resuming a
    finished run went back to its best step."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        # skipped when the line above saved at this step already (a new best), and while sanity checking
        if self.save_last and not self._should_skip_saving_checkpoint(trainer) and not self._should_save_on_train_epoch_end(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    @property
    def state_key(self) -> str:
        """ModelCheckpoint's own key, so that checkpoints written before this class still resume."""
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)


def record_validation_outside_fit(trainer: L.Trainer) -> None:
    """After ``trainer.validate`` at the end of a run: best.ckpt, the patience count and last.ckpt
    as a validation inside ``fit`` would leave them (Lightning skips both callbacks outside fit),
    so that a resumed run measures itself against its true best. The patience count first: the
    checkpoints hold it."""
    for callback in trainer.callbacks:
        if isinstance(callback, EarlyStopping):
            callback._run_early_stopping_check(trainer)
    for callback in trainer.callbacks:
        if isinstance(callback, BestAndLastCheckpoint):
            candidates = callback._monitor_candidates(trainer)
            callback._save_topk_checkpoint(trainer, candidates)
            callback._save_last_checkpoint(trainer, candidates)


class PatienceAsGiven(EarlyStopping):
    """Early stopping whose patience is the one the run was started or resumed with: Lightning's
    restores the checkpoint's, so ``--resume --patience 20`` of a run that stopped at patience 6
    stopped again at its first validation without a better CER."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        patience = self.patience
        super().load_state_dict(state_dict)
        self.patience = patience


class CheckpointOnInterrupt(L.Callback):
    """Ctrl-C (or any crash) during training leaves ``last.ckpt`` for ``--resume``; during a
    validation, the one that validation's predecessor wrote stays."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # saving is collective under DDP and the other ranks may not be here: there, the last
        # validation's last.ckpt is what --resume uses
        if trainer.global_step == 0 or trainer.world_size > 1 or isinstance(exception, CheckpointError):
            return
        if trainer.validating:
            # a checkpoint now would resume in the middle of this validation with its counts
            # lost, scoring the step on the lines read after the resume (or, after SIGTERM, not
            # at all): the last validation's last.ckpt is the one to resume from
            log.warning("training stopped during a validation (%s): --resume continues from the last validation's checkpoint %s",
                        type(exception).__name__, self.path)
            return
        try:
            trainer.save_checkpoint(self.path)
        except CheckpointError as error:
            log.error("%s", error)
            return
        log.warning("training stopped (%s): resumable checkpoint saved to %s", type(exception).__name__, self.path)


class FlushLogsAtValidation(L.Callback):
    """Writes the buffered log rows after each validation, before the checkpoint that follows it
    (Lightning runs checkpoint callbacks last), so a run killed and resumed loses no validation."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        for logger in trainer.loggers:
            logger.save()


class ExportBestModel(L.Callback):
    """Writes the model file (safetensors + JSON) each time validation CER improves, so the best
    model is usable during training and survives an interrupted run."""

    def __init__(self, path: Path, training_info: dict[str, Any], half: bool = False) -> None:
        self.path = path
        self.training_info = training_info
        self.half = half
        self.best_cer = float("inf")
        self.validated_step = -1
        """The training step of the latest validation: the run validates once more at its end
        when steps came after it (a budget that ran out between validations)."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or "val_cer" not in trainer.callback_metrics:
            return
        self.validated_step = trainer.global_step
        cer = float(trainer.callback_metrics["val_cer"])
        if cer >= self.best_cer:
            return
        if trainer.is_global_zero:
            metrics = {
                "val_cer": cer,
                "val_wer": float(trainer.callback_metrics.get("val_wer", float("nan"))),
                "epoch": trainer.current_epoch,
                "step": trainer.global_step,
            }
            save_model(pl_module.trained_model(self.training_info, metrics), self.path, half=self.half)
        # only once the file holds it: a failed write must leave a checkpoint that still wants a better model
        self.best_cer = cer

    def state_dict(self) -> dict[str, Any]:
        return {"best_cer": self.best_cer, "validated_step": self.validated_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_cer = state_dict.get("best_cer", float("inf"))
        self.validated_step = state_dict.get("validated_step", -1)


class LineThroughput(L.Callback):
    """Training speed in lines per second, data loading included, validation excluded: the clock
    runs from one training batch's end to the next."""

    def __init__(self) -> None:
        self.lines = 0
        self.seconds = 0.0
        self._last: float | None = None

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.seconds += now - self._last
            self.lines += len(batch[4])
            pl_module.log("train_lines_per_s", self.lines / self.seconds, prog_bar=True)
        self._last = now

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


class UnreadableLines(L.Callback):
    """Lines whose images passed the size check before training but failed to load in a batch
    (e.g. a truncated file): warned about once each, with the line's id, and counted for the
    run's summary, a resumed run's included (the sets travel in the checkpoint). Each process of
    a distributed run counts the training lines it met, and the run gathers them all at its end
    (``merge_across_processes``); every process reads every validation line, so only the first
    warns about those."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        """--strict: the first line that fails to load stops the run, as a bad entry does when the data is read."""
        self.train: set[int] = set()
        self.val: set[int] = set()

    def _note(self, seen: set[int], dataset: Any, batch: Any, warn: bool = True) -> None:
        for line in batch[5]:
            if self.strict:
                sample = dataset.samples[line.index]
                raise LinescribeError(f"{sample.path}: line {sample.id}: {line.reason} (--strict)")
            if line.index not in seen:
                seen.add(line.index)
                if warn:
                    log.warning("skipping line %s: %s", dataset.samples[line.index].id, line.reason)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        # each process met its own batch: under --strict all stop together, or the others would wait
        # for the stopped one at the next gradient sync until the collective times out
        if self.strict and trainer.strategy.reduce_boolean_decision(bool(batch[5]), all=False) and not batch[5]:
            raise LinescribeError("a training line failed to load in another process of the run (--strict)")
        self._note(self.train, trainer.datamodule.train_set, batch)

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._note(self.val, trainer.datamodule.val_set, batch, warn=trainer.is_global_zero)

    def state_dict(self) -> dict[str, Any]:
        return {"train": sorted(self.train), "val": sorted(self.val)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train, self.val = set(state_dict["train"]), set(state_dict["val"])

    def merge_across_processes(self) -> None:
        """In a distributed run each process met its own share of the training batches: every
        process then holds all of their lines, so the run's summary counts them all."""
        gathered: list[Any] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(gathered, (self.train, self.val))
        self.train = set().union(*(train for train, _ in gathered))
        self.val = set().union(*(val for _, val in gathered))

    @property
    def count(self) -> int:
        return len(self.train) + len(self.val)


class TrainingProgress(TQDMProgressBar):
    """One progress bar for the whole run: training loss, the latest validation CER and lines/s,
    with no per-validation bars and none of Lightning's run-folder version (``v_num``)."""

    SHOWN = {"train_loss": "loss", "val_cer": "val CER", "train_lines_per_s": "lines/s"}

    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        shown: dict[str, Any] = {}
        for name, label in self.SHOWN.items():
            if name in metrics:
                value = float(metrics[name])
                shown[label] = f"{value:.2%}" if name == "val_cer" else f"{value:.1f}" if name == "train_lines_per_s" else f"{value:.3f}"
        return shown
