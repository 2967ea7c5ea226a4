"""``linescribe train``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from linescribe.data.preprocess import MAX_HEIGHT, MIN_CORE_HEIGHT, MIN_HEIGHT
from linescribe.errors import LinescribeError
from linescribe.training.config import ACCELERATORS, OPTIMIZERS, PRECISIONS, SCHEDULERS, TrainConfig


LIGHTNING_NOISE = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",  # Lightning calling torch's older pytree API
    r"The number of training batches \(\d+\) is smaller than the logging interval.*",  # short runs log at epoch ends
)


SIGTERM_STATUS = 128 + 15
"""What a shell reports for a process killed by SIGTERM."""


@contextlib.contextmanager
def exit_status_on_sigterm() -> Iterator[None]:
    """A run stopped by SIGTERM (its resumable checkpoint saved) ends with status 143, as a killed
    process does: Lightning's SIGTERMException is a SystemExit without a code, which exited 0, so
    scripts, ``&&`` chains and a scheduler's ``afterok`` took the interrupted run for a finished one."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    try:
        yield
    except SIGTERMException:
        sys.exit(SIGTERM_STATUS)


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


def config_option(name: str, help: str, defaults: dict[str, Any] | None = None, **settings: Any) -> Callable[[Callable], Callable]:
    """The ``--flag`` of config field ``name`` (TrainConfig, or the dataclass whose ``defaults``
    are given), with the config's default (shown in --help), so that the command line and the
    Python API cannot drift apart."""
    default = (TRAIN_DEFAULTS if defaults is None else defaults)[name]
    flag = "--" + name.replace("_", "-")
    if default is True:
        flag = f"{flag}/--no-{name.replace('_', '-')}"
    elif default is False:
        settings["is_flag"] = True
    return click.option(flag, name, default=default, show_default=default is not None and default is not False, help=help, **settings)


def config_defaults(config: type) -> dict[str, Any]:
    """The defaults of a config dataclass's fields, by field name."""
    return {f.name: f.default for f in dataclasses.fields(config) if f.default is not dataclasses.MISSING}


TRAIN_DEFAULTS = config_defaults(TrainConfig)


@click.command()
@click.argument("datasets", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Run folder: model, checkpoints, logs.")
@click.option("--val", "val", multiple=True, help="Validation dataset (repeatable). Default: split off --val-fraction by document.")
@config_option("train_ids", "Split list: line or form ids to train on (e.g. IAM trainset.txt).", type=click.Path(path_type=Path))
@config_option("val_ids", "Split list: line or form ids to validate on.", type=click.Path(path_type=Path))
@config_option("val_fraction", "Share of documents held out when no validation set is given.", type=click.FloatRange(0, 1, max_open=True))
@config_option("arch", "Architecture name (see `linescribe info --archs`; default: the --init model's, else crnn).")
@click.option("--hparam", multiple=True, help="Architecture hyper-parameter NAME=JSON (repeatable).")
@config_option("line_height", "Scale lines to this height in pixels (default: the architecture's, or the --init model's).",
               type=click.IntRange(MIN_HEIGHT, MAX_HEIGHT))
@config_option("core_height", "Scale each line so its core (x-height band) is this many pixels high, not the whole crop "
               "(a new run; default: the whole crop).", type=click.IntRange(MIN_CORE_HEIGHT, MAX_HEIGHT))
@config_option("alphabet", "Alphabet file (one character per line). Default: from the training texts.", type=click.Path(path_type=Path))
@click.option("--text-rules", default=None, help="Transcription rules for the labels, comma-separated: cremma, quotes, long-s "
              "(default: the --init model's; '' for none).")
@config_option("init", "Start from this model's weights (fine-tuning): a .safetensors file, a run folder or a bundled model's name.")
@config_option("batch_size", "Lines per training step.", type=click.IntRange(min=1))
@config_option("max_epochs", "Stop after this many epochs (-1: no limit, with --max-steps).", type=click.IntRange(min=-1))
@config_option("max_steps", "Stop after this many steps (-1: no limit).", type=click.IntRange(min=-1))
@config_option("max_time", "Wall-clock budget DD:HH:MM:SS; the best model so far is kept.", type=str)
@config_option("optimizer", "Optimiser.", type=click.Choice(OPTIMIZERS))
@config_option("lr", "Learning rate (the peak, under onecycle).", type=click.FloatRange(min=0, min_open=True))
@config_option("weight_decay", "AdamW weight decay.", type=click.FloatRange(min=0))
@config_option("scheduler", "Learning-rate schedule.", type=click.Choice(SCHEDULERS))
@config_option("gradient_clip", "Clip the gradient norm (0 = off).", type=click.FloatRange(min=0))
@config_option("patience", "Early stopping: validations without a better CER.", type=click.IntRange(min=0))
@config_option("augment", "Random distortions of the training lines.")
@config_option("synth_ratio", "Share of training lines rendered on the fly by `synth`.", type=click.FloatRange(0, 1, max_open=True))
@config_option("synth_fonts", "Fonts for --synth-ratio (default: the bundled ones).", type=click.Path(path_type=Path, file_okay=False))
@config_option("seed", "Random seed: data order, augmentation, initial weights, and which documents --val-fraction holds out.")
@config_option("workers", "Data loading processes.", type=click.IntRange(min=0))
@config_option("threads", "Torch threads (0 = torch's default).", type=click.IntRange(min=0))
@config_option("accelerator", "Where to train.", type=click.Choice(ACCELERATORS))
@config_option("devices", "Number of devices, or auto.")
@config_option("num_nodes", "Machines in a distributed run.", type=click.IntRange(min=1))
@config_option("precision", "Lightning precision; auto = bf16-mixed on GPU, 32-true on CPU.", type=click.Choice(PRECISIONS))
@config_option("val_every", "Validate every N epochs, or a fraction of an epoch below 1.", type=click.FloatRange(min=0, min_open=True))
@config_option("strict", "Stop at the first bad dataset entry instead of skipping it.")
@config_option("resume", "Continue the run in --output from its last checkpoint.")
def train(datasets: tuple[str, ...], output: Path, hparam: tuple[str, ...], **options) -> None:
    """Train a recognizer on DATASETS ([FORMAT:]PATH[@WEIGHT], formats: iam, gt, tsv, page, alto)."""
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
    typed |= {"train"} | ({"val"} if config.val else set()) | ({"hparams"} if hparam else set())
    with exit_status_on_sigterm():
        result = run_training(config, resume_overrides=typed)
    if not result.is_global_zero:
        return
    click.echo(
        f"best val CER {result.best_val_cer:.2%} after {result.steps:,} steps ({result.epochs:.2f} epochs, "
        f"{result.lines_per_second:.1f} lines/s); model: {result.model_path}"
    )
