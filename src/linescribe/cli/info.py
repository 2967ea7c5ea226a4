"""``linescribe info``."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("model", required=False)
@click.option("--archs", is_flag=True, help="List the architectures that `train --arch` accepts.")
def info(model: str | None, archs: bool) -> None:
    """Describe MODEL (.safetensors or .onnx file, or bundled name; default model if omitted)."""
    if archs:
        from linescribe.models import ARCHITECTURES

        for name, arch in ARCHITECTURES.items():
            click.echo(f"{name:8} {arch.description}")
        return
    from linescribe.inference import torch_installed
    from linescribe.onnxmodel import is_onnx_file, read_onnx_document
    from linescribe.pretrained import onnx_twin, resolve_model_path

    path = resolve_model_path(model)
    if not torch_installed():
        path = onnx_twin(path) or path
    if is_onnx_file(path):
        document = read_onnx_document(path)
    else:
        from linescribe.models.modelfile import read_model_document

        document = read_model_document(path)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
