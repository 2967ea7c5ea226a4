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
