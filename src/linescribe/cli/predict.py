"""``linescribe predict``."""

from __future__ import annotations

import csv
import glob
import io
import json
import sys
from pathlib import Path

import click

from linescribe.data.images import IMAGE_SUFFIXES


def expand_inputs(items: tuple[str, ...]) -> list[str]:
    """Files as given, folders searched recursively for images, globs expanded (also when quoted)."""
    paths: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths += sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif any(char in item for char in "*?[") and not path.exists():
            paths += sorted(glob.glob(item, recursive=True))
        else:
            paths.append(item)
    return paths


def _looks_like_model(item: str) -> bool:
    path = Path(item)
    return path.suffix == ".safetensors" or (path.is_dir() and (path / "model.safetensors").is_file())


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="[MODEL] IMAGES...")
@click.option("-m", "--model", help="Model file or bundled model name (default: the bundled default model).")
@click.option("-f", "--format", "output_format", type=click.Choice(["text", "json", "tsv"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the results here (atomically) instead of stdout.")
@click.option("--batch-size", default=16, show_default=True)
def predict(inputs: tuple[str, ...], model: str | None, output_format: str, output: Path | None, batch_size: int) -> None:
    """Read the text of line IMAGES (files, folders, globs). A first argument ending in
    .safetensors is taken as the model."""
    from linescribe.inference import load_recognizer
    from linescribe.files import write_atomically

    items = list(inputs)
    if model is None and len(items) > 1 and _looks_like_model(items[0]):
        model = items.pop(0)
    paths = expand_inputs(tuple(items))
    if not paths:
        raise click.UsageError("no images found in " + " ".join(items))
    recognizer = load_recognizer(model, batch_size=batch_size)
    predictions = recognizer.predict_many(paths)
    failures = [p for p in predictions if not p.ok]
    for failure in failures:
        click.echo(f"linescribe: error: {failure.error}", err=True)
    readable = [p for p in predictions if p.ok]
    if output_format == "json":
        text = json.dumps(
            [
                {"file": p.source, "text": p.text, "confidence": round(p.confidence, 4), "error": p.error or None}
                for p in predictions
            ],
            ensure_ascii=False,
            indent=2,
        ) + "\n"
    elif output_format == "tsv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
        writer.writerow(["file", "text", "confidence"])
        for p in readable:
            writer.writerow([p.source, p.text, f"{p.confidence:.4f}"])
        text = buffer.getvalue()
    elif len(paths) == 1:
        text = "".join(f"{p.text}\n" for p in readable)
    else:
        text = "".join(f"{p.source}\t{p.text}\n" for p in readable)
    if output:
        write_atomically(output, text.encode("utf-8"))
    else:
        click.echo(text, nl=False)
    if failures:
        sys.exit(1)
