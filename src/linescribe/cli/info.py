"""``linescribe info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command()
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the model's whole description as JSON.")
@click.option("--archs", is_flag=True, help="List the architectures that `train --arch` accepts.")
def info(model: str | None, as_json: bool, archs: bool) -> None:
    """Describe MODEL (.safetensors or .onnx file, run folder or bundled name; default model if
    omitted): architecture, size, input, alphabet, training data, licence and figures."""
    if archs:
        from linescribe.models import ARCHITECTURES

        for name, arch in ARCHITECTURES.items():
            click.echo(f"{name:8} {arch.description}")
        return
    from linescribe.inference import torch_installed
    from linescribe.onnxmodel import is_onnx_file, read_onnx_document
    from linescribe.pretrained import onnx_twin, resolve_model_path

    path = weights = resolve_model_path(model)
    if not torch_installed():
        path = onnx_twin(path) or path
    if is_onnx_file(path):
        document = read_onnx_document(path)
    else:
        from linescribe.models.modelfile import read_model_document

        document = read_model_document(path)
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        click.echo(summary(document, path, parameter_count(weights)))


def parameter_count(path: Path) -> int | None:
    """The number of learned weights in a model file, from its header (safetensors; batch-norm
    running statistics left out) or its initializers (ONNX, where batch norm is folded into the
    convolutions); None when the file cannot say."""
    try:
        if path.suffix.lower() == ".onnx":
            import onnx

            return sum(_product(tensor.dims) for tensor in onnx.load(str(path)).graph.initializer)
        with open(path, "rb") as handle:
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
    except (OSError, ValueError, ImportError):
        return None
    learned = (entry["shape"] for name, entry in header.items() if name != "__metadata__" and ".running_" not in name
               and not name.endswith("num_batches_tracked"))
    return sum(_product(shape) for shape in learned)


def _product(dims: Any) -> int:
    total = 1
    for dim in dims:
        total *= int(dim)
    return total


def _alphabet_text(chars: list[str]) -> str:
    """The alphabet on one line: runs of 4 or more consecutive letters or digits as ``a-z``,
    space as ``␣``, everything else as itself."""
    points = sorted(ord(char) for char in chars)
    runs: list[list[int]] = []
    for point in points:
        if runs and point == runs[-1][-1] + 1 and chr(point).isalnum() and chr(runs[-1][-1]).isalnum():
            runs[-1].append(point)
        else:
            runs.append([point])
    text = "".join(f"{chr(run[0])}-{chr(run[-1])}" if len(run) >= 4 else "".join(map(chr, run)) for run in runs)
    return text.replace(" ", "␣")


def summary(document: dict[str, Any], path: Path, count: int | None) -> str:
    """A short human description of a model document; ``--json`` gives all of it."""
    training = document.get("training", {})
    data = training.get("data", {})
    preprocess = document.get("preprocess", {})
    metrics = document.get("metrics", {})
    size = f"{count / 1e6:.1f} M parameters, " if count else ""
    rows = [("model", f"{document.get('name') or path.stem} ({document.get('arch')}, {size}{document.get('storage', 'float32')} weights)")]
    if preprocess.get("width"):
        rows.append(("input", f"lines scaled to {preprocess['width']}x{preprocess.get('height')} px"))
    else:
        rows.append(("input", f"lines scaled to {preprocess.get('height')} px high, {preprocess.get('min_width')}-{preprocess.get('max_width')} px wide"))
    alphabet = document.get("alphabet", [])
    rows.append(("alphabet", f"{len(alphabet)} characters: {_alphabet_text(alphabet)}"))
    rules = training.get("config", {}).get("text_rules")
    if rules:
        rows.append(("text rules", ", ".join(rules)))
    for side in ("train", "val"):
        entries = data.get(side) or []
        if entries:
            label = "trained on" if side == "train" else "validated on"
            rows.append((label, ", ".join(f"{entry.get('path')} ({entry.get('lines', 0):,})" for entry in entries)))
    if "val_cer" in metrics:
        rows.append(("validation", f"CER {metrics['val_cer']:.2%}, WER {metrics.get('val_wer', float('nan')):.2%} "
                                   f"(epoch {metrics.get('epoch', '?')}, step {metrics.get('step', '?')})"))
    tests = metrics.get("test") or {}
    if tests:
        rows.append(("test CER", ", ".join(f"{name} {figures['cer']:.2%}" for name, figures in tests.items())))
    if training.get("license"):
        rows.append(("licence", training["license"]))
    rows.append(("file", f"{path} ({path.stat().st_size / 1e6:.1f} MB)"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows) + "\n(--json: the whole description)"
