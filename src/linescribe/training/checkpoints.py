"""Resumable training checkpoints that are written atomically, carry a checksum and load safely.

A checkpoint file is one header line, ``linescribe-checkpoint/1 sha256=<hex digest>``, followed by
what ``torch.save`` wrote. The digest covers those bytes, so a file damaged after it was written
(a bad disk, a partial copy, an edit) is refused with a clear message instead of resuming from
garbage; checkpoints are loaded with ``weights_only=True``, so a planted file cannot run code.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from linescribe.errors import LinescribeError
from linescribe.files import write_atomically

MAGIC = b"linescribe-checkpoint/1 sha256="
_HEADER_LENGTH = len(MAGIC) + 64 + 1  # magic, hex digest, newline


class CheckpointError(LinescribeError):
    """A checkpoint that cannot be written, or read back as it was written."""


def write_checkpoint(checkpoint: dict[str, Any], path: Path) -> None:
    """Serialise ``checkpoint`` with its checksum; the previous file survives any failure."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    payload = buffer.getvalue()
    header = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n"
    try:
        write_atomically(Path(path), header + payload)
    except OSError as error:
        reason = error.strerror or str(error)
        raise CheckpointError(f"{path}: cannot write the checkpoint ({reason}); the previous one is intact") from None


def checkpoint_payload(path: Path) -> bytes:
    """The ``torch.save`` bytes of a checkpoint file, after checking its header and checksum."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({error.strerror or error})") from None
    header, payload = data[:_HEADER_LENGTH], data[_HEADER_LENGTH:]
    if not header.startswith(MAGIC) or not header.endswith(b"\n"):
        raise CheckpointError(f"{path}: not a linescribe checkpoint (no checksum header); refusing to resume from it")
    expected = header[len(MAGIC) : -1].decode("ascii", errors="replace")
    if hashlib.sha256(payload).hexdigest() != expected:
        raise CheckpointError(f"{path}: the checkpoint is damaged (checksum mismatch); refusing to resume from it")
    return payload


def read_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A verified checkpoint as a dict of tensors and plain values (never arbitrary objects)."""
    payload = checkpoint_payload(path)
    try:
        return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as error:  # torch reports unpicklable or malformed content in many ways
        raise CheckpointError(f"{path}: the checkpoint holds something other than weights and settings ({error})") from None
