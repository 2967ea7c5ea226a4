"""``linescribe export`` and the ``--backend`` option of ``predict`` and ``eval``."""

from __future__ import annotations

import json

from click.testing import CliRunner

from linescribe.cli import main
from linescribe.modelfile.weights import save_model

from generated import line_texts, random_model, write_gt_folder


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_export_writes_a_checked_onnx_file_that_predict_and_info_read(tmp_path):
    model = save_model(random_model(), tmp_path / "tiny.safetensors")
    lines = write_gt_folder(tmp_path / "lines", line_texts(5))
    exported = run("export", model, "-o", tmp_path / "tiny.onnx")
    assert exported.exit_code == 0, exported.output
    assert exported.output.startswith(f"{tmp_path / 'tiny.onnx'}: crnn model 'random-crnn'")
    assert "max |log-prob difference|" in exported.output
    by_torch = run("predict", model, lines, "-f", "tsv", "--backend", "torch")
    by_onnx = run("predict", tmp_path / "tiny.onnx", lines, "-f", "tsv")
    in_memory = run("predict", model, lines, "-f", "tsv", "--backend", "onnx", "--threads", "1")
    assert by_torch.exit_code == by_onnx.exit_code == in_memory.exit_code == 0
    assert [row.split("\t")[:2] for row in by_onnx.output.splitlines()] == [row.split("\t")[:2] for row in by_torch.output.splitlines()]
    assert in_memory.output == by_onnx.output
    info = json.loads(run("info", tmp_path / "tiny.onnx", "--json").output)
    assert info["name"] == "random-crnn" and info["export"]["format"] == "onnx"


def test_export_refuses_what_it_cannot_write(tmp_path):
    model = save_model(random_model(), tmp_path / "tiny.safetensors")
    wrong_suffix = run("export", model, "-o", tmp_path / "tiny.bin")
    assert wrong_suffix.exit_code == 2 and "must end in .onnx" in wrong_suffix.output
    run("export", model, "-o", tmp_path / "tiny.onnx")
    again = run("export", tmp_path / "tiny.onnx", "-o", tmp_path / "again.onnx")
    assert again.exit_code == 2 and again.output == f"linescribe: error: {tmp_path / 'tiny.onnx'}: already an ONNX model\n"
    lines = write_gt_folder(tmp_path / "lines", line_texts(1))
    on_torch = run("predict", "--backend", "torch", tmp_path / "tiny.onnx", lines)
    assert on_torch.exit_code == 2 and "an ONNX model runs on the onnx backend, not torch" in on_torch.output
    # refused before the export, and by the name given (the temporary file beside it was named)
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    unwritable = run("export", model, "-o", blocker / "tiny.onnx")
    assert unwritable.exit_code == 2 and unwritable.output.startswith(f"linescribe: error: {blocker / 'tiny.onnx'}: cannot write here")


def test_a_failed_atomic_write_names_the_file_asked_for(tmp_path, monkeypatch):
    """A full disk's write names no file (the command line then showed a traceback), and a
    folder that refuses new files named the temporary file beside the one asked for."""
    import errno
    import os

    import pytest

    from linescribe.files import write_atomically

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)  # where the data meets the disk
    with pytest.raises(OSError) as raised:
        write_atomically(tmp_path / "out.json", b"x" * 10)
    assert raised.value.filename == str(tmp_path / "out.json") and not list(tmp_path.iterdir())
    monkeypatch.undo()
    longest = tmp_path / ("a" * 250 + ".txt")  # a legal name: its temporary sibling must fit too
    write_atomically(longest, b"x")
    assert longest.read_bytes() == b"x"


def test_the_default_export_name_stays_in_the_working_folder(tmp_path, monkeypatch):
    """The name comes from the model file, which may hold a slash: sub/dir.onnx was written."""
    from linescribe.modelfile.weights import load_model_file

    model = random_model()
    model.name = "sub/dir"
    path = save_model(model, tmp_path / "m.safetensors")
    assert load_model_file(path).name == "sub/dir"
    monkeypatch.chdir(tmp_path)
    assert run("export", path).exit_code == 0
    assert (tmp_path / "sub_dir.onnx").is_file() and not (tmp_path / "sub").exists()


def test_eval_scores_alike_on_both_backends(tmp_path):
    model = save_model(random_model(), tmp_path / "tiny.safetensors")
    lines = write_gt_folder(tmp_path / "lines", line_texts(6))
    scores = {}
    for backend in ("torch", "onnx"):
        result = run("eval", model, lines, "--json", "--backend", backend)
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        assert document["backend"] == backend
        scores[backend] = (document["cer"], document["wer"], document["lines"])
    assert scores["torch"] == scores["onnx"]
