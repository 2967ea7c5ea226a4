"""``linescribe info``."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("model", required=False)
@click.option("--archs", is_flag=True, help="List the architectures that `train --arch` accepts.")
def info(model: str | None, archs: bool) -> None:
    """Describe MODEL (file or bundled name; default model if omitted) without loading its weights."""
    if archs:
        from linescribe.models import ARCHITECTURES

        for name, arch in ARCHITECTURES.items():
            click.echo(f"{name:8} {arch.description}")
        return
    from linescribe.models.modelfile import read_model_document
    from linescribe.pretrained import resolve_model_path

    click.echo(json.dumps(read_model_document(resolve_model_path(model)), ensure_ascii=False, indent=2))
