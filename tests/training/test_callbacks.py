import os
import stat

import pytest
import torch

from linescribe.files import write_atomically
from linescribe.training.callbacks import AtomicCheckpointIO, UnreadableLines
from linescribe.training.checkpoints import MAGIC, CheckpointError, read_checkpoint


@pytest.mark.parametrize(("errno", "reason"), [(28, "No space left on device"), (30, "Read-only file system"), (13, "Permission denied")])
def test_checkpoint_write_is_atomic(tmp_path, monkeypatch, errno, reason):
    """A full disk, or an output that became unwritable (remounted read-only, permissions taken
    away) while the run goes on: one line, and the previous checkpoint intact."""
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, path)
    assert io.load_checkpoint(path) == {"step": 1}

    def failing_fsync(fd: int) -> None:
        raise OSError(errno, reason)

    monkeypatch.setattr("os.fsync", failing_fsync)
    with pytest.raises(CheckpointError, match=f"last.ckpt: cannot write the checkpoint .{reason}.; the previous one is intact"):
        io.save_checkpoint({"step": 2}, path)
    assert read_checkpoint(path) == {"step": 1}  # the old checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_damaged_checkpoint_is_refused(tmp_path):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"weights": torch.arange(100.0)}, path)
    data = bytearray(path.read_bytes())
    data[-40] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"last.ckpt: the checkpoint is damaged \(checksum mismatch\)"):
        read_checkpoint(path)
    path.write_bytes(bytes(data[: len(data) // 2]))  # a partial copy
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        read_checkpoint(path)


def test_foreign_or_code_carrying_checkpoints_are_refused(tmp_path):
    plain = tmp_path / "plain.ckpt"
    torch.save({"step": 1}, plain)  # a checkpoint without our header
    with pytest.raises(CheckpointError, match="plain.ckpt: not a linescribe checkpoint"):
        read_checkpoint(plain)

    import hashlib
    import io

    buffer = io.BytesIO()
    torch.save({"payload": os.system}, buffer)  # would call a function when unpickled
    payload = buffer.getvalue()
    planted = tmp_path / "planted.ckpt"
    planted.write_bytes(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.raises(CheckpointError, match="planted.ckpt: the checkpoint holds something other than weights"):
        read_checkpoint(planted)


def test_atomic_files_get_normal_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "model.safetensors", b"data")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "model.safetensors").stat().st_mode) == 0o644


def test_unreadable_lines_of_every_process_are_counted_once(monkeypatch):
    """Each process met its own training batches, and every process all the validation lines:
    the run's count is the union, a line two processes met counted once."""
    here, there = UnreadableLines(), UnreadableLines()
    here.train, here.val = {1, 4}, {7}
    there.train, there.val = {4, 9}, {7}

    def all_gather_object(gathered: list, mine: object) -> None:
        gathered[:] = [mine, (there.train, there.val)]

    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    monkeypatch.setattr(torch.distributed, "all_gather_object", all_gather_object)
    here.merge_across_processes()
    assert (here.train, here.val, here.count) == ({1, 4, 9}, {7}, 4)


def test_an_interrupt_during_a_validation_keeps_the_last_validations_checkpoint(tmp_path):
    """Saved mid-validation, a resumed run scored that step on the lines read after the resume
    (or, after SIGTERM, never validated it)."""
    from types import SimpleNamespace

    from linescribe.training.callbacks import CheckpointOnInterrupt

    saved = []
    trainer = SimpleNamespace(global_step=6, world_size=1, validating=True, save_checkpoint=saved.append)
    CheckpointOnInterrupt(tmp_path / "last.ckpt").on_exception(trainer, None, KeyboardInterrupt())
    assert saved == []
    trainer.validating = False
    CheckpointOnInterrupt(tmp_path / "last.ckpt").on_exception(trainer, None, KeyboardInterrupt())
    assert saved == [tmp_path / "last.ckpt"]


def test_a_run_stopped_by_sigterm_exits_with_a_killed_process_status():
    """Lightning's SIGTERMException is a SystemExit without a code: an interrupted run exited 0."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from linescribe.cli.train import exit_status_on_sigterm

    with pytest.raises(SystemExit) as stopped, exit_status_on_sigterm():
        raise SIGTERMException
    assert stopped.value.code == 143
