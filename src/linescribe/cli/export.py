"""``linescribe export``."""

from __future__ import annotations

import re
from pathlib import Path

import click


@click.command()
@click.argument("model", required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="The .onnx file to write (default: here, the model's name with characters other than letters, digits, . and - as _, .onnx).")
@click.option("--half/--float", "half", default=None,
              help="Round the weights to fp16 and store them so (a smaller file, still computed in float32), or keep float32. "
              "Default: as the model file stores them.")
def export(model: str | None, output: Path | None, half: bool | None) -> None:
    """Export MODEL (a .safetensors file or bundled name; default: the default model) to ONNX, for
    onnxruntime: `predict --backend onnx`, or any ONNX runtime.

    Batch and width are dynamic; the alphabet, preprocessing and architecture travel in the file's
    metadata. The export is checked: a random batch of lines of random widths goes through PyTorch
    and onnxruntime, and the file is written only if their log-probs agree within 1e-3."""
    from linescribe.errors import ModelFileError
    from linescribe.files import check_writable
    from linescribe.modelfile import read_model_document, resolve_model_path
    from linescribe.modelfile.export import TOLERANCE, export_onnx
    from linescribe.modelfile.onnx_runtime import is_onnx_file
    from linescribe.modelfile.weights import load_model_file

    path = resolve_model_path(model)
    if is_onnx_file(path):
        raise ModelFileError(f"{path}: already an ONNX model")
    if output is not None:  # refused before the export, which takes a while
        if output.suffix.lower() != ".onnx":
            raise click.BadParameter(f"{output}: the output name must end in .onnx", param_hint="-o/--output")
        check_writable(output)
    trained = load_model_file(path)
    # a model's name is the file's own word, which may hold a slash: the default file stays here
    output = output or Path((re.sub(r"[^\w.-]+", "_", trained.name or "").strip(".") or path.stem) + ".onnx")
    if half is None:
        half = read_model_document(path).get("storage") == "float16"
    check = export_onnx(trained, output, half=half)
    size_mb = output.stat().st_size / 1e6
    click.echo(
        f"{output}: {trained.arch} model {trained.name!r}, {size_mb:.1f} MB ({'fp16' if half else 'float32'} weights); "
        f"checked on {len(check.widths)} lines "
        f"of widths {min(check.widths)}-{max(check.widths)}: max |log-prob difference| {check.max_abs_diff:.1e} "
        f"(limit {TOLERANCE:g}), a line alone vs in the batch {check.alone_abs_diff:.1e}"
    )
