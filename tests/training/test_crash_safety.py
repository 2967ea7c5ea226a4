"""A training run survives kill -9 and a full disk: nothing written is lost or left half-written."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generated import line_texts, tiny_train_config, write_gt_folder
from linescribe.errors import LinescribeError
from linescribe.training.checkpoints import read_checkpoint
from linescribe.training.run import train

pytestmark = pytest.mark.slow  # servers, processes and minutes-long checks: left out of `make test-fast`

TINY_FLAGS = [
    "--hparam", "channels=[8,16,16]", "--hparam", "pools=[[2,2],[2,2],[2,1]]",
    "--hparam", "lstm_hidden=32", "--hparam", "lstm_layers=1", "--hparam", "dropout=0.0",
    "--batch-size", "6", "--lr", "0.003", "--scheduler", "constant", "--no-augment",
    "--workers", "0", "--patience", "1000", "--seed", "0", "--threads", "1", "--max-epochs", "100000",
]
STEPS = 200


def _train_command(data: Path, run: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "linescribe", "train", str(data), "--val", str(data), "-o", str(run),
            "--max-steps", str(STEPS), "--val-every", "4", *TINY_FLAGS, *extra]


def _validations(run: Path) -> dict[int, float]:
    """step -> val CER over every part of the run's CSV log (a resume starts a new part)."""
    found = {}
    for path in sorted((run / "logs" / "csv").glob("metrics*.csv")):
        with open(path, encoding="utf-8") as handle:
            found.update({int(row["step"]): float(row["val_cer"]) for row in csv.DictReader(handle) if row.get("val_cer")})
    return found


def _final_val_cer(run: Path) -> float:
    validations = _validations(run)
    return validations[max(validations)]


def _no_temporary_files(run: Path) -> bool:
    return not list(run.glob("**/.*.tmp"))


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> Path:
    return write_gt_folder(tmp_path_factory.mktemp("crash") / "lines", line_texts(12, seed=3))


def test_kill_9_at_random_moments_then_resume_matches_an_uninterrupted_run(lines, tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(_train_command(lines, reference), check=True, capture_output=True, timeout=240)

    run = tmp_path / "killed"
    rng = random.Random(7)
    kills = 0
    first = True
    while True:
        command = _train_command(lines, run, *([] if first else ["--resume"]))
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        first = False
        if kills < 2:
            checkpoint = run / "checkpoints" / "last.ckpt"
            before = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
            deadline = time.monotonic() + 120
            # wait for a new checkpoint, then kill at a random moment of the next stretch
            while time.monotonic() < deadline and process.poll() is None:
                if checkpoint.exists() and checkpoint.stat().st_mtime_ns != before:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                read_checkpoint(checkpoint)  # whatever the moment, the checkpoint on disk is whole
                continue
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr.decode()[-2000:]
        break

    assert kills == 2
    assert _no_temporary_files(run)
    resumed = read_checkpoint(run / "checkpoints" / "last.ckpt")
    uninterrupted = read_checkpoint(reference / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == uninterrupted["global_step"] > STEPS - 10
    assert abs(_final_val_cer(run) - _final_val_cer(reference)) <= 0.05
    drift = max((resumed["state_dict"][k] - v).abs().max().item() for k, v in uninterrupted["state_dict"].items() if v.is_floating_point())
    assert _validations(run) == _validations(reference)  # every validation logged once, none lost
    assert drift <= 1e-5  # resuming replays the same batches from the same state (measured: 0.0)


def test_full_disk_fails_cleanly_and_keeps_the_last_checkpoint(lines, tmp_path, monkeypatch):
    output = tmp_path / "run"
    real_fsync = os.fsync
    calls = {"count": 0}

    def fsync_until_disk_is_full(fd: int) -> None:
        calls["count"] += 1
        if calls["count"] > 4:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr("os.fsync", fsync_until_disk_is_full)
    with pytest.raises(LinescribeError, match="No space left on device.*intact"):
        train(tiny_train_config(lines, output, max_steps=60, val_every=2))
    saved = read_checkpoint(output / "checkpoints" / "last.ckpt")
    assert 0 < saved["global_step"] < 60
    assert (output / "model.safetensors").is_file()
    assert _no_temporary_files(output)

    monkeypatch.setattr("os.fsync", real_fsync)  # space freed: the run resumes and finishes
    result = train(tiny_train_config(lines, output, max_steps=60, val_every=2, resume=True))
    assert result.steps == 60


def test_damaged_checkpoint_is_refused_on_resume(lines, tmp_path):
    output = tmp_path / "run"
    train(tiny_train_config(lines, output, max_steps=8, val_every=2))
    checkpoint = output / "checkpoints" / "last.ckpt"
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0x01
    checkpoint.write_bytes(bytes(data))
    result = subprocess.run(_train_command(lines, output, "--resume"), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("last.ckpt: the checkpoint is damaged (checksum mismatch); refusing to resume from it")
