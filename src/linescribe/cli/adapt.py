"""``linescribe adapt``."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from linescribe.cli.train import config_defaults, config_option, exit_status_on_sigterm, quiet_lightning
from linescribe.data.text import parse_rules
from linescribe.training.config import AdaptConfig

adapt_option = partial(config_option, defaults=config_defaults(AdaptConfig))


@click.command()
@click.argument("model")
@click.argument("datasets", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Run folder: model.safetensors (the adapted model, or the original if adapting made it worse), logs.")
@click.option("--val", "val", multiple=True, help="Lines to check the result on (repeatable). Default: --held-out of DATASETS.")
@adapt_option("held_out", "Share of the lines held out, at random, to stop training and compare the models.",
              type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--text-rules", default=None, help="Transcription rules for the labels (default: those MODEL was trained with).")
@adapt_option("lr", "Learning rate.", type=click.FloatRange(min=0, min_open=True))
@adapt_option("batch_size", "Lines per training step.", type=click.IntRange(min=1))
@adapt_option("max_steps", "Training steps (0: chosen from the number of lines).", type=click.IntRange(min=0))
@adapt_option("patience", "Early stopping: validations without a better held-out CER.", type=click.IntRange(min=1))
@adapt_option("augment", "Random distortions of the training lines.")
@adapt_option("seed", "Random seed: held-out lines, data order, augmentation.")
@adapt_option("workers", "Data loading processes.", type=click.IntRange(min=0))
@adapt_option("threads", "Torch threads (0 = torch's default).", type=click.IntRange(min=0))
@adapt_option("max_time", "Wall-clock budget DD:HH:MM:SS for training; the best model so far is kept.", type=str)
@adapt_option("strict", "Stop at the first bad dataset entry instead of skipping it.")
@adapt_option("progress", "Progress bar.")
def adapt(model: str, datasets: tuple[str, ...], output: Path, val: tuple[str, ...], text_rules: str | None, **options) -> None:
    """Fine-tune MODEL (a bundled name such as `default`, a .safetensors file or a run folder) on a
    few corrected lines of one hand or collection: DATASETS ([FORMAT:]PATH, e.g. a PAGE or ALTO
    export, a gt folder or a TSV). Ends with the CER of both models on the held-out lines; the
    adapted model is kept only if it is not worse."""
    from linescribe.training.adapt import REJECTED_FILE
    from linescribe.training.adapt import adapt as run_adaptation

    quiet_lightning()
    config = AdaptConfig(
        data=list(datasets),
        output=output,
        model=model,
        val=list(val),
        text_rules=None if text_rules is None else parse_rules(text_rules),
        **options,
    )
    with exit_status_on_sigterm():
        result = run_adaptation(config)
    lines = f"{result.train_lines} lines trained on, {result.held_out_lines} held out"
    if result.skipped:
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(result.skipped.items(), key=lambda item: -item[1]))
        lines += f"; {sum(result.skipped.values())} left out: {reasons}"
    click.echo(f"{lines}; {result.steps} steps in {result.seconds:.0f} s")
    if result.new_characters:
        fate = "added to the alphabet" if result.adapted else "that the kept original cannot read"
        click.echo(f"characters {fate}: {' '.join(result.new_characters)}")
    change = (result.cer_adapted - result.cer_before) / result.cer_before if result.cer_before else 0.0
    click.echo(
        f"held-out CER: {result.cer_before:.2%} before, {result.cer_adapted:.2%} adapted ({change:+.0%})"
    )
    if result.adapted:
        click.echo(f"model: {result.model_path}")
    else:
        click.echo(
            f"the adapted model is worse on the held-out lines: kept the original as {result.model_path} "
            f"(the adapted one is {result.model_path.parent / REJECTED_FILE})"
        )
