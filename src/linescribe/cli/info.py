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

        if model is not None:
            raise click.UsageError("--archs lists the architectures: give no MODEL with it")
        if as_json:
            click.echo(json.dumps({name: arch.description for name, arch in ARCHITECTURES.items()}, ensure_ascii=False, indent=2))
            return
        for name, arch in ARCHITECTURES.items():
            click.echo(f"{name:8} {arch.description}")
        return
    from linescribe.modelfile import read_model_document, resolve_model_path
    from linescribe.modelfile.names import onnx_twin
    from linescribe.modelfile.opening import torch_installed

    path = weights = resolve_model_path(model)
    if not torch_installed():
        path = onnx_twin(path) or path
    document = read_model_document(path)
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        click.echo(summary(document, path, parameter_count(weights)))


def parameter_count(path: Path) -> int | None:
    """The number of learned weights in a model file, from its header (safetensors; batch-norm
    running statistics left out) or its initializers (ONNX, where batch norm is folded into the
    convolutions); None when the file cannot say."""
    from linescribe.errors import ModelFileError
    from linescribe.modelfile.document import read_safetensors_header

    try:
        if path.suffix.lower() == ".onnx":
            import onnx

            return sum(_product(tensor.dims) for tensor in onnx.load(str(path)).graph.initializer)
        header = read_safetensors_header(path)
    except (OSError, ValueError, ImportError, ModelFileError):
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
    """The alphabet on one line: runs of 4 or more consecutive letters or digits as ``a…z`` (a
    hyphen would read as the character), space as ``␣``, everything else as itself."""
    points = sorted(ord(char) for char in chars)
    runs: list[list[int]] = []
    for point in points:
        if runs and point == runs[-1][-1] + 1 and chr(point).isalnum() and chr(runs[-1][-1]).isalnum():
            runs[-1].append(point)
        else:
            runs.append([point])
    text = "".join(f"{chr(run[0])}…{chr(run[-1])}" if len(run) >= 4 else "".join(map(chr, run)) for run in runs)
    return text.replace(" ", "␣")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _percent(value: Any) -> str:
    return f"{value:.2%}" if isinstance(value, (int, float)) else "?"


def summary(document: dict[str, Any], path: Path, count: int | None) -> str:
    """A short human description of a model document; ``--json`` gives all of it. Fields that a
    model file lacks (older files, files written by other tools) are left out."""
    training = _mapping(document.get("training"))
    data = _mapping(training.get("data"))
    preprocess = _mapping(document.get("preprocess"))
    metrics = _mapping(document.get("metrics"))
    size = "" if not count else f"{count / 1e6:.1f} M parameters, " if count >= 100_000 else f"{count:,} parameters, "
    rows = [("model", f"{document.get('name') or path.stem} ({document.get('arch')}, {size}{document.get('storage', 'float32')} weights)")]
    if preprocess.get("width"):
        rows.append(("input", f"lines scaled to {preprocess['width']}x{preprocess.get('height')} px"))
    else:
        core = f" (their core band to {preprocess['core_height']} px)" if preprocess.get("core_height") else ""
        rows.append(("input", f"lines scaled to {preprocess.get('height')} px high{core}, {preprocess.get('min_width')}-{preprocess.get('max_width')} px wide"))
    alphabet = [char for char in document.get("alphabet") or [] if isinstance(char, str) and len(char) == 1]
    rows.append(("alphabet", f"{len(alphabet)} characters: {_alphabet_text(alphabet)}"))
    rules = _mapping(training.get("config")).get("text_rules")
    if rules:
        rows.append(("text rules", ", ".join(map(str, rules))))
    for side, label in (("train", "trained on"), ("val", "validated on")):
        entries = [_mapping(entry) for entry in data.get(side) or [] if isinstance(entry, dict)]
        if entries:
            rows.append((label, ", ".join(f"{entry.get('path')} ({entry.get('lines') or 0:,})" for entry in entries)))
    if metrics.get("val_cer") is not None:
        rows.append(("validation", f"CER {_percent(metrics['val_cer'])}, WER {_percent(metrics.get('val_wer'))} "
                                   f"(epoch {metrics.get('epoch', '?')}, step {metrics.get('step', '?')})"))
    averaged = training.get("averaged_from")
    if isinstance(averaged, list) and averaged:
        rows.append(("averaged", f"the mean of {len(averaged)} models' weights ({', '.join(map(str, averaged))}): a soup, validated only by eval"))
    tests = _mapping(metrics.get("test"))
    if tests:
        rows.append(("test CER", ", ".join(f"{name} {_percent(_mapping(figures).get('cer'))}" for name, figures in tests.items())))
    if training.get("license"):
        rows.append(("licence", str(training["license"])))
    origin = _mapping(training.get("derived_from") or training.get("source"))
    if origin:
        rows.append(("derived from", f"{origin.get('model', '?')} ({origin.get('license', 'licence not recorded')})"))
    rows.append(("file", f"{path} ({path.stat().st_size / 1e6:.1f} MB)"))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows) + "\n(--json: the whole description)"
