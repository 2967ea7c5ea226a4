"""Resuming a run exactly where it stopped, and settings refused in one line rather than a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from generated import line_texts, tiny_train_config, write_gt_folder
from linescribe.data.batching import BucketBatchSampler
from linescribe.errors import LinescribeError
from linescribe.training.checkpoints import CheckpointError, read_checkpoint
from linescribe.training.datamodule import DistributedBuckets
from linescribe.training.module import LineRecognitionModule, frames_needed
from linescribe.training.run import train

SHIP = Path(__file__).resolve().parents[2] / "recipes" / "default" / "ship.py"


class TrainedBatches(L.Callback):
    """The lines of each training step, in order."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, ...]] = []

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        self.batches.append(tuple(batch[4]))


class CtrlCAfter(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def _interrupted(config, step: int, *callbacks: L.Callback) -> None:
    """Train until Ctrl-C after ``step`` steps (Lightning's graceful shutdown exits with status 1)."""
    previous_handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):
            train(config, [*callbacks, CtrlCAfter(step)])
    finally:
        signal.signal(signal.SIGINT, previous_handler)


class CrashAfter(L.Callback):
    """A crash that leaves no checkpoint of its own, as kill -9 does: the run resumes from its last validation."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            raise CheckpointError("killed")


@pytest.mark.parametrize(
    ("scheduler", "val_every", "stop"),
    [
        ("constant", 0.5, "ctrl-c"),  # at step 3, in the middle of the first epoch
        ("onecycle", 0.5, "ctrl-c"),  # its loader is built after the progress is restored too
        ("constant", 1, "kill"),  # at step 5: resumed from the validation after the first epoch's last batch
    ],
)
def test_a_resumed_run_trains_the_batches_an_uninterrupted_one_would(tmp_path, scheduler, val_every, stop):
    """Regression: the loader started the epoch again from its first batch and Lightning stopped it
    after the batches still owed, so the epoch's first lines were trained twice and its last never.
    (No loader processes here: a process forked late in a long test session can hang.)"""
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    settings = dict(max_steps=8, batch_size=2, val_every=val_every, scheduler=scheduler)  # 2 epochs of 4 batches
    whole = TrainedBatches()
    train(tiny_train_config(data, tmp_path / "whole", **settings), [whole])
    for epoch in (0, 1):
        assert sorted(line for batch in whole.batches[4 * epoch : 4 * epoch + 4] for line in batch) == list(range(8))
    before, after = TrainedBatches(), TrainedBatches()
    if stop == "ctrl-c":
        _interrupted(tiny_train_config(data, tmp_path / "cut", **settings), 3, before)
    else:
        with pytest.raises(CheckpointError):
            train(tiny_train_config(data, tmp_path / "cut", **settings), [before, CrashAfter(5)])
    resumed_at = read_checkpoint(tmp_path / "cut" / "checkpoints" / "last.ckpt")["global_step"]
    assert resumed_at == (3 if stop == "ctrl-c" else 4)
    assert train(tiny_train_config(data, tmp_path / "cut", resume=True, **settings), [after]).steps == 8
    assert before.batches[:resumed_at] + after.batches == whole.batches


WIDTHS = [30 + 7 * (line % 5) for line in range(10)]


def test_a_sampler_resumes_inside_an_epoch_then_goes_on_with_the_next():
    sampler = BucketBatchSampler(WIDTHS, batch_size=2, seed=3)
    sampler.resume(1, 2)
    assert list(sampler) == sampler.epoch_batches(1)[2:]
    assert list(sampler) == sampler.epoch_batches(2)


def test_a_pass_begun_and_dropped_shifts_no_epoch():
    """Resumed after a validation that followed an epoch's last batch, Lightning ends that epoch
    without a batch and asks for the next pass; a loader with worker processes has already drawn
    from the first, which must not make the next pass the epoch after."""
    epoch = 0
    sampler = DistributedBuckets(WIDTHS, 2, seed=3, current_epoch=lambda: epoch)
    sampler.resume(1, 0)
    passes = iter(sampler), iter(sampler)  # PyTorch's worker loader asks twice, draws from the second
    next(passes[1])
    epoch = 1
    assert list(sampler) == sampler.epoch_batches(1)


@pytest.mark.parametrize("more_lines", [True, False])
def test_a_schedule_that_the_resumed_run_would_outgrow_is_refused_and_its_checkpoint_kept(tmp_path, more_lines):
    """Regression: with an epoch budget, lines added (or taken away) since the run started changed
    its length; onecycle then stepped past its end, and the crash overwrote last.ckpt, so every
    later resume crashed too."""
    texts = line_texts(9)
    data = write_gt_folder(tmp_path / "lines", texts[:6] if more_lines else texts)
    settings = dict(max_steps=-1, max_epochs=2, batch_size=3, val_every=1, scheduler="onecycle")
    _interrupted(tiny_train_config(data, tmp_path / "run", **settings), 1)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    saved = last.read_bytes()
    if more_lines:
        write_gt_folder(data, texts[6:], prefix="new")
        message = "laid out over 4 steps, the run now comes to 6"
    else:
        for stem in ("doc001_l0006", "doc001_l0007", "doc002_l0008"):
            (data / f"{stem}.png").unlink()
        message = "laid out over 6 steps, the run now comes to 4"
    with pytest.raises(LinescribeError, match=message):
        train(tiny_train_config(data, tmp_path / "run", resume=True, **settings))
    assert last.read_bytes() == saved


def test_a_run_that_failed_before_its_first_step_can_be_started_again(tmp_path, monkeypatch):
    """Regression: its run.json made a new run refuse the folder, and --resume found no checkpoint."""
    data = write_gt_folder(tmp_path / "lines", line_texts(4))

    def broken_step(self, batch, batch_idx):
        raise RuntimeError("out of memory")

    with monkeypatch.context() as patch:
        patch.setattr(LineRecognitionModule, "training_step", broken_step)
        with pytest.raises(RuntimeError, match="out of memory"):
            train(tiny_train_config(data, tmp_path / "run", max_steps=2))
    assert (tmp_path / "run" / "run.json").is_file()
    with pytest.raises(LinescribeError, match="stopped before its first step: run it again without --resume"):
        train(tiny_train_config(data, tmp_path / "run", max_steps=2, resume=True))
    assert train(tiny_train_config(data, tmp_path / "run", max_steps=2)).steps == 2
    with pytest.raises(LinescribeError, match="already holds a training run"):
        train(tiny_train_config(data, tmp_path / "run", max_steps=2))


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
def test_a_schedule_over_the_whole_run_needs_a_finite_budget(tmp_path, scheduler):
    with pytest.raises(LinescribeError, match=f"--scheduler {scheduler} .* with --max-epochs -1, give --max-steps"):
        tiny_train_config(tmp_path, tmp_path / "run", max_epochs=-1, max_steps=-1, scheduler=scheduler)
    tiny_train_config(tmp_path, tmp_path / "run", max_epochs=-1, max_steps=10, scheduler=scheduler)
    tiny_train_config(tmp_path, tmp_path / "run", max_epochs=-1, max_steps=-1, scheduler="plateau")


def test_plateau_schedule_with_validation_every_other_epoch(tmp_path):
    """Regression: the plateau schedule looked for val_cer at the end of the first epoch, which had
    no validation, and Lightning stopped the run with a traceback."""
    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    result = train(tiny_train_config(data, tmp_path / "run", max_steps=6, batch_size=2, val_every=2, scheduler="plateau"))
    assert result.steps == 6 and result.model_path.is_file()


@pytest.mark.parametrize("devices", ["abc", "0", "-2", "1.5"])
def test_devices_that_no_machine_has_are_refused_with_the_option(tmp_path, devices):
    with pytest.raises(LinescribeError, match=f"--devices must be .* not '{devices}'"):
        tiny_train_config(tmp_path, tmp_path / "run", devices=devices)
    with pytest.raises(LinescribeError, match="--num-nodes must be at least 1, not 0"):
        tiny_train_config(tmp_path, tmp_path / "run", num_nodes=0)
    assert tiny_train_config(tmp_path, tmp_path / "run", devices=2).devices == "2"


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_lightning_or_numpy_cannot_take_is_refused(tmp_path, seed):
    """Lightning replaced it by a random seed with a warning; numpy refused a negative one in the
    middle of the run (synthetic lines), with a traceback."""
    with pytest.raises(LinescribeError, match=f"--seed must be in \\[0, 4294967295\\], not {seed}"):
        tiny_train_config(tmp_path, tmp_path / "run", seed=seed)


def test_a_machine_lightning_cannot_set_up_is_one_line_and_no_run(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    with pytest.raises(LinescribeError, match="^--accelerator cpu --devices 0,1 --num-nodes 1: .*CPUAccelerator"):
        train(tiny_train_config(data, tmp_path / "run", accelerator="cpu", devices="0,1"))
    assert not (tmp_path / "run" / "run.json").exists()


def test_lines_too_short_count_the_blank_between_repeated_letters():
    """CTC writes "all" in 4 frames at least (a blank between the l's), not 3."""
    targets = torch.tensor([1, 2, 2, 3, 3, 3, 4])  # "all", "bbb", "c"
    assert frames_needed(targets, torch.tensor([3, 3, 1])).tolist() == [4, 5, 1]


def test_ship_recipe_names_a_missing_run_in_one_line(tmp_path):
    shipped = subprocess.run(
        [sys.executable, str(SHIP), str(tmp_path / "no-run"), "--output", str(tmp_path / "out.safetensors")],
        capture_output=True, text=True, timeout=300,
    )
    assert shipped.returncode != 0 and "Traceback" not in shipped.stderr
    assert shipped.stderr.strip() == f"{tmp_path / 'no-run' / 'model.safetensors'}: model file not found"


def test_last_checkpoint_follows_every_validation_not_only_the_better_ones(tmp_path, monkeypatch):
    """Regression: Lightning 2.6 refreshed last.ckpt only beside a new best, so a run whose CER
    stopped improving resumed from its last improvement after a kill (and trained again since)."""
    from linescribe.training import module

    monkeypatch.setattr(module.ErrorRates, "cer", property(lambda rates: 0.5))  # no validation improves on the first
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    settings = dict(batch_size=2, val_every=0.5)
    train(tiny_train_config(data, tmp_path / "flat", max_steps=12, **settings))
    checkpoints = tmp_path / "flat" / "checkpoints"
    assert read_checkpoint(checkpoints / "best.ckpt")["global_step"] == 2  # the first validation
    assert read_checkpoint(checkpoints / "last.ckpt")["global_step"] == 12
    assert train(tiny_train_config(data, tmp_path / "flat", resume=True, max_steps=14, **settings)).steps == 14


def test_the_validation_after_a_budget_that_ends_between_validations_counts_like_any_other(tmp_path, monkeypatch):
    """Regression: Lightning skips checkpointing and early stopping in ``trainer.validate``, so the
    end-of-run validation's better CER reached model.safetensors but not best.ckpt, and the
    checkpoint kept the earlier best score and patience count for a resumed run to compare with."""
    from linescribe.training import module

    readings: list[float] = []

    def better_each_time(rates: object) -> float:
        readings.append(1.0 - len(readings) / 1000)
        return readings[-1]

    monkeypatch.setattr(module.ErrorRates, "cer", property(better_each_time))
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    train(tiny_train_config(data, tmp_path / "cut", max_steps=13, batch_size=2, val_every=0.5, patience=3))
    best = read_checkpoint(tmp_path / "cut" / "checkpoints" / "best.ckpt")
    last = read_checkpoint(tmp_path / "cut" / "checkpoints" / "last.ckpt")
    assert best["global_step"] == last["global_step"] == 13
    states = {name.split("{")[0]: state for name, state in last["callbacks"].items()}
    assert float(states["ModelCheckpoint"]["best_model_score"]) == pytest.approx(min(readings), abs=0.005)
    assert float(states["PatienceAsGiven"]["best_score"]) == pytest.approx(min(readings), abs=0.005)
    assert states["PatienceAsGiven"]["wait_count"] == 0


def test_a_run_cut_short_by_its_budget_and_resumed_with_more_trains_the_batches_an_uninterrupted_one_would(tmp_path):
    """Regression: Lightning counts an epoch that --max-steps (or --max-time) cut short as done, so
    after the rest of that epoch every later epoch took the order of the one after it."""
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    settings = dict(batch_size=2, val_every=1)  # 4 batches an epoch; cut after 1.5 epochs
    whole, before, after = TrainedBatches(), TrainedBatches(), TrainedBatches()
    train(tiny_train_config(data, tmp_path / "whole", max_steps=14, **settings), [whole])
    train(tiny_train_config(data, tmp_path / "cut", max_steps=6, **settings), [before])
    assert train(tiny_train_config(data, tmp_path / "cut", resume=True, max_steps=14, **settings), [after]).steps == 14
    assert before.batches + after.batches == whole.batches


def test_a_one_cycle_run_of_exactly_ten_steps_trains(tmp_path):
    """Regression: OneCycleLR's warm-up of 10 % ended at step 0 of a 10-step run: ZeroDivisionError."""
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    assert train(tiny_train_config(data, tmp_path / "ten", max_steps=10, batch_size=2, scheduler="onecycle")).steps == 10
