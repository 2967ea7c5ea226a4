"""``linescribe eval``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from linescribe.cli.options import (
    batch_size_option,
    chosen_decoding,
    decoding_options,
    load_reader,
    model_option,
    reading_options,
    split_model_argument,
)

if TYPE_CHECKING:
    from linescribe.evaluation import LineResult


def report_tsv(lines: list[LineResult]) -> str:
    """The per-line report, unquoted as the manifest reader reads TSV, so that texts holding
    quotes come back as they are; ids escaped as the texts are (a file name with a line break
    cut its row in two)."""
    from linescribe.data.readers.manifest import tsv_line

    header = tsv_line(["id", "reference", "prediction", "distance", "confidence"], texts=())
    return header + "".join(
        tsv_line([line.id, line.reference, line.prediction, line.distance, f"{line.confidence:.4f}"], texts=(0, 1, 2))
        for line in lines
    )


def _refuse_report_over_inputs(report: Path, datasets: list[Path], files: list[str | Path]) -> None:
    """Refuse a --report that is an input: the model, a dataset's file (a manifest, a PAGE file, or
    an image or label inside a dataset folder), the --ids list, the LM or lexicon."""
    from linescribe.data.images import IMAGE_SUFFIXES
    from linescribe.errors import LinescribeError
    from linescribe.files import refuse_writing_over

    refuse_writing_over(report, [*datasets, *files], "--report")
    if report.is_file() and report.name.lower().endswith((*IMAGE_SUFFIXES, ".txt", ".xml")):
        real = report.resolve()
        for folder in datasets:
            if folder.is_dir() and real.is_relative_to(folder.resolve()):
                raise LinescribeError(f"--report {report} is a file of the dataset {folder}: write the report to another file")


@click.command("eval")
@click.argument("datasets", nargs=-1, required=True, metavar="[MODEL] DATASETS...")
@model_option
@click.option("--report", type=click.Path(path_type=Path), help="Per-line TSV: id, reference, prediction, edit distance, confidence (tab, newline and backslash written as \\t, \\n, \\\\ as in manifests).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--confusions", default=10, show_default=True, help="Show the N most frequent character confusions.")
@batch_size_option()
@click.option("--ids", type=click.Path(path_type=Path), help="Split list: evaluate only these line or form ids (entries skipped while reading are counted over the whole datasets, and said so).")
@click.option("--text-rules", default=None, help="Transcription rules for the references (default: those the model was trained with).")
@click.option("--strict", is_flag=True, help="Stop at the first bad dataset entry.")
@reading_options
@decoding_options
def evaluate(
    datasets: tuple[str, ...],
    model: str | None,
    report: Path | None,
    as_json: bool,
    confusions: int,
    batch_size: int,
    ids: Path | None,
    text_rules: str | None,
    strict: bool,
    backend: str,
    threads: int,
    **decoding: Any,
) -> None:
    """Character and word error rates of MODEL (a .safetensors or .onnx file, a run folder or a
    bundled model's name; default: the bundled default model) on DATASETS.

    CER = total character edit distance / total reference characters (corpus level);
    WER = the same over whitespace-separated words.
    """
    from linescribe.data.dataset import load_datasets
    from linescribe.data.splits import filter_by_ids, read_split_file, warn_unmatched_ids
    from linescribe.data.text import parse_rules
    from linescribe.evaluation import evaluate as run_evaluation
    from linescribe.data.readers import parse_spec
    from linescribe.files import check_writable, text_bytes, write_atomically
    from linescribe.modelfile import resolve_model_path
    model, datasets = split_model_argument(datasets, model, "datasets")
    if report:  # now, not after reading every line
        check_writable(report)
        files = [decoding.get(name) for name in ("lm", "lexicon")] + [ids, resolve_model_path(model)]
        _refuse_report_over_inputs(report, [parse_spec(name).path for name in datasets], [path for path in files if path])
    recognizer = load_reader(model, backend, threads, batch_size=batch_size, decoding=chosen_decoding(**decoding))
    if text_rules is None:
        text_rules = recognizer.model.text_rules
    loaded = load_datasets(list(datasets), strict, parse_rules(text_rules))
    for name, dataset in zip(datasets, loaded):
        if dataset.spec.weight != 1.0:
            click.echo(f"linescribe: warning: {name}: eval reads every line once; the @{dataset.spec.weight:g} weight is not used", err=True)
    lines_read = [len(dataset.samples) for dataset in loaded]
    if ids:
        listed = read_split_file(ids)
        warn_unmatched_ids(ids, listed, (sample for dataset in loaded for sample in dataset.samples))
        for dataset in loaded:
            dataset.samples = filter_by_ids(dataset.samples, listed)
    samples = [sample for dataset in loaded for sample in dataset.samples]
    if not as_json or not samples:  # before the reading, which may stop with "nothing to evaluate"
        for dataset, count in zip(loaded, lines_read):
            click.echo(dataset.summary(count if ids else None), err=True)
    result = run_evaluation(recognizer, samples, strict=strict)
    if report:
        write_atomically(report, text_bytes(report_tsv(result.lines)))
    # keyed by each dataset as given: two splits of one manifest (m.tsv#val m.tsv#test) share a path
    skipped = {name: dict(d.skipped) for name, d in zip(datasets, loaded) if d.skipped}
    if as_json:
        # with --ids, the skips are named for what they count: the whole datasets (a skipped
        # entry has no group that a form list could select it by), beside the lines read
        counts: dict[str, Any] = {"skipped_entries": skipped}
        if ids:
            read_counts = dict(zip(datasets, lines_read))
            counts = {"lines_read_before_ids": read_counts, "skipped_entries_before_ids": skipped}
        document = {
            "model": recognizer.name,
            "decoder": recognizer.decoding.decoder,
            "backend": recognizer.backend,
            "datasets": datasets,
            **result.summary(),
            **counts,
            "unreadable": result.unreadable,
            "confusions": [{"reference": r, "prediction": h, "count": c} for r, h, c in result.confusions(confusions)],
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    for problem in result.unreadable:
        click.echo(f"unreadable: {problem}", err=True)
    rates = result.rates
    click.echo(f"lines      {rates.lines}")
    click.echo(f"CER        {rates.cer:.2%}  ({rates.char_errors} / {rates.chars} characters)")
    click.echo(f"WER        {rates.wer:.2%}  ({rates.word_errors} / {rates.words} words)")
    click.echo(f"line acc.  {rates.line_accuracy:.2%}")
    click.echo(f"speed      {result.summary()['lines_per_second']:.1f} lines/s")
    if result.lines_outside_alphabet:
        click.echo(f"note       {result.lines_outside_alphabet} lines have characters the model cannot write")
    if confusions:
        click.echo("confusions (reference -> prediction, count):")
        for ref, hyp, count in result.confusions(confusions):
            click.echo(f"  {ref or '∅'!r:>6} -> {hyp or '∅'!r:<6} {count}")
