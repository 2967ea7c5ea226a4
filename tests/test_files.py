"""Atomic writes: what a rewrite keeps of the file it replaces."""

from __future__ import annotations

import os
import stat

from linescribe.files import FILE_MODE, write_atomically


def test_a_rewritten_file_keeps_its_permissions_and_a_new_one_gets_the_usual(tmp_path):
    """A private 0600 results file became world-readable when -o wrote it again."""
    private = tmp_path / "results.txt"
    private.write_bytes(b"old")
    private.chmod(0o600)
    write_atomically(private, b"new")
    assert private.read_bytes() == b"new" and stat.S_IMODE(private.stat().st_mode) == 0o600
    write_atomically(tmp_path / "fresh.txt", b"x")
    assert stat.S_IMODE((tmp_path / "fresh.txt").stat().st_mode) == FILE_MODE


def test_a_symbolic_link_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "store" / "results.txt"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "results.txt"
    link.symlink_to(target)
    write_atomically(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.txt"]  # no temporary left beside it
