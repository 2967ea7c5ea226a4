"""``linescribe train``."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import click

from linescribe.errors import LinescribeError


LIGHTNING_NOISE = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",  # Lightning calling torch's older pytree API
    r"The number of training batches \(\d+\) is smaller than the logging interval.*",  # short runs log at epoch ends
)


def quiet_lightning() -> None:
    """Lightning's own messages: warnings only, printed once (its loggers have their own handler
    and also reach the root logger that ``linescribe -v`` sets up), without its cloud-logging
    advert or the hardware it did not find, and without deprecation notices meant for its own
    developers."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        logger.handlers.clear()
    for message in LIGHTNING_NOISE:
        warnings.filterwarnings("ignore", message=message)


def _parse_hparams(values: tuple[str, ...]) -> dict:
    hparams = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise LinescribeError(f"--hparam {item!r}: expected NAME=VALUE, e.g. lstm_hidden=256")
        try:
            hparams[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            raise LinescribeError(f"--hparam {item!r}: the value must be JSON, e.g. 256 or [32,64]") from None
    return hparams


@click.command()
@click.argument("datasets", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Run folder: model, checkpoints, logs.")
@click.option("--val", "val", multiple=True, help="Validation dataset (repeatable). Default: split off --val-fraction by document.")
@click.option("--train-ids", type=click.Path(path_type=Path), help="Split list: line or form ids to train on (e.g. IAM trainset.txt).")
@click.option("--val-ids", type=click.Path(path_type=Path), help="Split list: line or form ids to validate on.")
@click.option("--val-fraction", default=0.1, show_default=True, help="Share of documents held out when no validation set is given.")
@click.option("--arch", default="crnn", show_default=True, help="Architecture name (see `linescribe info --archs`).")
@click.option("--hparam", multiple=True, help="Architecture hyper-parameter NAME=JSON (repeatable).")
@click.option("--alphabet", type=click.Path(path_type=Path), help="Alphabet file (one character per line). Default: from the training texts.")
@click.option("--text-rules", default="", help="Transcription rules for the labels, comma-separated: cremma, quotes, long-s.")
@click.option("--init", type=click.Path(path_type=Path), help="Start from this model file's weights (fine-tuning).")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--max-epochs", default=50, show_default=True)
@click.option("--max-steps", default=-1, show_default=True)
@click.option("--max-time", help="Wall-clock budget DD:HH:MM:SS; the best model so far is kept.")
@click.option("--optimizer", type=click.Choice(["adamw", "rmsprop"]), default="adamw", show_default=True)
@click.option("--lr", default=1e-3, show_default=True)
@click.option("--weight-decay", default=1e-4, show_default=True)
@click.option("--scheduler", type=click.Choice(["onecycle", "cosine", "plateau", "constant"]), default="onecycle", show_default=True)
@click.option("--gradient-clip", default=5.0, show_default=True, help="Clip the gradient norm (0 = off).")
@click.option("--patience", default=10, show_default=True, help="Early stopping: validations without a better CER.")
@click.option("--augment/--no-augment", default=True, show_default=True)
@click.option("--synth-ratio", default=0.0, show_default=True, help="Share of training lines rendered on the fly by `synth` (0-0.9).")
@click.option("--synth-fonts", type=click.Path(path_type=Path, file_okay=False), help="Fonts for --synth-ratio (default: the bundled ones).")
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", default=1, show_default=True, help="Data loading processes.")
@click.option("--threads", default=0, help="Torch threads (0 = torch's default).")
@click.option("--accelerator", type=click.Choice(["auto", "cpu", "gpu"]), default="auto", show_default=True)
@click.option("--devices", default="auto", show_default=True, help="Number of devices, or auto.")
@click.option("--num-nodes", default=1, show_default=True)
@click.option("--precision", default="auto", show_default=True, help="Lightning precision; auto = bf16-mixed on GPU, 32 on CPU.")
@click.option("--val-every", default=1.0, show_default=True, help="Validate every N epochs, or a fraction of an epoch below 1.")
@click.option("--strict", is_flag=True, help="Stop at the first bad dataset entry instead of skipping it.")
@click.option("--resume", is_flag=True, help="Continue the run in --output from its last checkpoint.")
def train(datasets: tuple[str, ...], output: Path, hparam: tuple[str, ...], **options) -> None:
    """Train a recognizer on DATASETS ([FORMAT:]PATH[@WEIGHT], formats: iam, gt, tsv, page, alto)."""
    from linescribe.training.config import TrainConfig
    from linescribe.training.run import train as run_training


    quiet_lightning()
    config = TrainConfig(
        train=list(datasets),
        output=output,
        val=list(options.pop("val")),
        hparams=_parse_hparams(hparam),
        **options,
    )
    # on --resume, budget and machine options left at their defaults keep the run's own values
    context = click.get_current_context()
    typed = {name for name in options if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}
    result = run_training(config, resume_overrides=typed)
    if not result.is_global_zero:
        return
    click.echo(
        f"best val CER {result.best_val_cer:.2%} after {result.steps:,} steps ({result.epochs:.2f} epochs, "
        f"{result.lines_per_second:.1f} lines/s); model: {result.model_path}"
    )
