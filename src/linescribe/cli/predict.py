"""``linescribe predict``."""

from __future__ import annotations

import csv
import glob
import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from linescribe.data.images import IMAGE_SUFFIXES

DECODER_NAMES = ("greedy", "beam", "beam_lm", "word_beam")
_DECODER_FLAGS = {"beam_width": "--beam-width", "lm": "--lm", "lm_weight": "--lm-weight", "word_bonus": "--word-bonus", "lexicon": "--lexicon"}


def decoding_options(command):
    """The decoder flags shared by ``predict`` and ``eval``; they arrive as one ``decoding`` dict."""
    options = [
        click.option("--decoder", type=click.Choice(DECODER_NAMES), default="greedy", show_default=True,
                     help="greedy: best class per frame; beam: CTC prefix beam search; beam_lm: beam search with "
                     "a word n-gram LM; word_beam: beam_lm with words constrained to the lexicon."),
        click.option("--beam-width", type=click.IntRange(min=1), help="Beams kept per frame (beam decoders; default 16)."),
        click.option("--lm", help="Word n-gram LM: an ARPA file (.arpa/.arpa.gz) or a bundled name (default: english)."),
        click.option("--lm-weight", type=float, help="Weight of the LM log-probability (alpha; default 0.3, tuned on hooker val)."),
        click.option("--word-bonus", type=float, help="Score added per word (beta; default 2.0): higher favours more, shorter words."),
        click.option("--lexicon", type=click.Path(exists=True, dir_okay=False), help="Word list (one per line): words outside it are <unk> for beam_lm; the only words word_beam may write."),
        click.option("--spell", is_flag=True, help="Correct the spelling of decoded words (numbers, punctuation, capitals and known words are kept)."),
        click.option("--speller", type=click.Choice(["symspell", "autocorrect"]), default="symspell", show_default=True, help="Spelling corrector used by --spell."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def recognizer_options(decoder: str, spell: bool, speller: str, **given: Any) -> dict[str, Any]:
    """Recognizer keyword arguments from the decoder flags; a flag the decoder cannot use is an error."""
    from linescribe.decoding import decoder_options

    accepted = decoder_options(decoder)
    options: dict[str, Any] = {"decoder": decoder}
    for name, value in given.items():
        if value is None:
            continue
        if name not in accepted:
            users = [d for d in DECODER_NAMES if name in decoder_options(d)]
            raise click.UsageError(f"{_DECODER_FLAGS[name]} needs --decoder {' or '.join(users)} (got --decoder {decoder})")
        options[name] = value
    if spell:
        options["spell"] = speller
    return options


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
@decoding_options
def predict(inputs: tuple[str, ...], model: str | None, output_format: str, output: Path | None, batch_size: int, **decoding: Any) -> None:
    """Read the text of line IMAGES (files, folders, globs). A first argument ending in
    .safetensors is taken as the model.

    JSON output gives per-character and per-word confidences and, for beam decoders, the n-best
    alternatives with their share of the beam's probability."""
    from linescribe.files import write_atomically
    from linescribe.inference import load_recognizer

    items = list(inputs)
    if model is None and len(items) > 1 and _looks_like_model(items[0]):
        model = items.pop(0)
    paths = expand_inputs(tuple(items))
    if not paths:
        raise click.UsageError("no images found in " + " ".join(items))
    recognizer = load_recognizer(model, batch_size=batch_size, **recognizer_options(**decoding))
    predictions = recognizer.predict_many(paths)
    failures = [p for p in predictions if not p.ok]
    for failure in failures:
        click.echo(f"linescribe: error: {failure.error}", err=True)
    readable = [p for p in predictions if p.ok]
    if output_format == "json":
        text = json.dumps([_json_record(p) for p in predictions], ensure_ascii=False, indent=2) + "\n"
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


def _json_record(prediction) -> dict[str, Any]:
    record: dict[str, Any] = {
        "file": prediction.source,
        "text": prediction.text,
        "confidence": round(prediction.confidence, 4),
        "error": prediction.error or None,
    }
    if prediction.ok:
        record["char_confidences"] = [round(c, 4) for c in prediction.char_confidences]
        record["words"] = [{"text": word, "confidence": round(c, 4)} for word, c in prediction.word_confidences]
        if prediction.alternatives:
            record["alternatives"] = [
                {"text": a.text, "probability": round(a.probability, 4), "score": round(a.score, 4)} for a in prediction.alternatives
            ]
    return record
