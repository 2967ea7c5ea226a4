"""Training settings: one field per flag of ``linescribe train`` (TrainConfig) and ``linescribe adapt``
(AdaptConfig): ``--batch-size`` <-> ``batch_size``."""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from linescribe.data.preprocess import MAX_HEIGHT, MIN_HEIGHT
from linescribe.data.text import parse_rules
from linescribe.errors import LinescribeError


DEFAULT_ARCH = "crnn"
"""The architecture of a run that names none and starts from no model."""


@dataclass
class TrainConfig:
    train: list[str]
    output: Path
    val: list[str] = field(default_factory=list)
    train_ids: Path | None = None
    val_ids: Path | None = None
    val_fraction: float = 0.1
    arch: str | None = None
    """Architecture name (default: the ``init`` model's, else ``DEFAULT_ARCH``)."""
    hparams: dict[str, Any] = field(default_factory=dict)
    line_height: int | None = None
    """Height in pixels the lines are scaled to (default: the architecture's, or the --init model's)."""
    core_height: int | None = None
    """Scale lines so their core (x-height band) is this many pixels high (``Preprocessing.core_height``)."""
    alphabet: Path | None = None
    text_rules: list[str] | None = None
    """Transcription rules applied to every label (see ``linescribe.data.text``), e.g. ["cremma"]
    (default: the ``init`` model's, so that ``eval`` treats the fine-tune like its start; else none)."""
    init: Path | None = None
    """Start from this model's weights (fine-tuning): a file, a run folder or a bundled model's name.
    Without ``alphabet``, its alphabet is kept and grows by the characters of the training and
    validation lines that it lacks; those start untrained."""
    batch_size: int = 16
    max_epochs: int = 50
    max_steps: int = -1
    max_time: str | None = None
    """Wall-clock budget as DD:HH:MM:SS; training stops cleanly and keeps the best model."""
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str = "onecycle"
    gradient_clip: float = 5.0
    patience: int = 10
    augment: bool = True
    synth_ratio: float = 0.0
    """Share of training lines that are synthetic, rendered on the fly (0 = none)."""
    synth_fonts: Path | None = None
    """Fonts for the synthetic lines (default: the bundled ones)."""
    seed: int = 0
    workers: int = 1
    threads: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    precision: str = "auto"
    strict: bool = False
    resume: bool = False
    val_every: float = 1.0
    """Validate every epoch (1.0), or this fraction of an epoch when below 1."""
    log_every: int = 20
    progress: bool = True

    def __post_init__(self) -> None:
        self.output = Path(self.output)
        for name in ("train_ids", "val_ids", "alphabet", "init", "synth_fonts"):
            if getattr(self, name) is not None:
                setattr(self, name, Path(getattr(self, name)))
        for name in ("val_every", "lr", "weight_decay", "gradient_clip", "val_fraction", "synth_ratio"):
            check_finite(name, getattr(self, name))
            setattr(self, name, float(getattr(self, name)))  # numpy's numbers too, which run.json's JSON refuses
        check_at_least("lr", self.lr, 0.0, above=True)
        for name in ("weight_decay", "gradient_clip", "workers", "threads"):
            check_at_least(name, getattr(self, name), 0)
        check_at_least("log_every", self.log_every, 1)
        if self.max_steps == 0 or self.max_steps < -1:
            raise LinescribeError(f"--max-steps must be at least 1, or -1 for no limit, not {self.max_steps}")
        check_at_least("val_every", self.val_every, 0, above=True)
        if self.val_every > 1 and self.val_every != int(self.val_every):
            raise LinescribeError(f"--val-every must be a whole number of epochs, or a fraction of one below 1, not {self.val_every}")
        check_max_time(self.max_time)
        if self.precision not in PRECISIONS:
            raise LinescribeError(f"--precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.arch is None and self.init is None:
            self.arch = DEFAULT_ARCH
        if not self.train:
            raise LinescribeError("no training data: give at least one dataset")
        if "input_height" in self.hparams:  # how runs started before --line-height stated it
            self.hparams = dict(self.hparams)
            stated = self.hparams.pop("input_height")
            if self.line_height not in (None, stated):
                raise LinescribeError(f"--hparam input_height={stated} and --line-height {self.line_height} disagree")
            self.line_height = stated
        if self.line_height is not None and (
            not isinstance(self.line_height, int) or isinstance(self.line_height, bool)
            or not MIN_HEIGHT <= self.line_height <= MAX_HEIGHT
        ):
            raise LinescribeError(f"--line-height must be a whole number of pixels in [{MIN_HEIGHT}, {MAX_HEIGHT}], not {self.line_height!r}")
        if self.max_epochs == 0 or self.max_epochs < -1:
            raise LinescribeError(f"--max-epochs must be at least 1, or -1 for no limit, not {self.max_epochs}")
        check_at_least("patience", self.patience, 0)
        check_at_least("batch_size", self.batch_size, 1)
        if not 0.0 <= self.synth_ratio < 1.0:
            raise LinescribeError(f"--synth-ratio must be in [0, 1), not {self.synth_ratio}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise LinescribeError(f"--val-fraction must be in [0, 1), not {self.val_fraction}")
        if self.val_fraction == 0 and not (self.val or self.val_ids):
            raise LinescribeError("--val-fraction 0 holds out no validation lines: give --val DATASET or --val-ids FILE")
        if self.optimizer not in OPTIMIZERS:
            raise LinescribeError(f"--optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.text_rules is not None:
            self.text_rules = parse_rules(self.text_rules)
        if self.accelerator not in ACCELERATORS:
            raise LinescribeError(f"--accelerator {self.accelerator!r}: choose one of {', '.join(ACCELERATORS)}")
        if self.scheduler not in SCHEDULERS:
            raise LinescribeError(f"--scheduler {self.scheduler!r}: choose one of {', '.join(SCHEDULERS)}")
        # a resumed run keeps its own schedule (the one typed may be the command line's default)
        if not self.resume and self.scheduler in ("onecycle", "cosine") and self.max_epochs == -1 and self.max_steps == -1:
            raise LinescribeError(
                f"--scheduler {self.scheduler} lays the learning rate out over the whole run: with --max-epochs -1, give --max-steps "
                "(or --scheduler plateau or constant)"
            )
        self.devices = str(self.devices)
        if not DEVICES_PATTERN.fullmatch(self.devices) or (self.devices.isdigit() and int(self.devices) == 0):
            raise LinescribeError(
                f"--devices must be a number of devices above 0, -1 for all, GPU indices such as 0,1, or auto, not {self.devices!r}"
            )
        if self.num_nodes < 1:
            raise LinescribeError(f"--num-nodes must be at least 1, not {self.num_nodes}")
        check_seed(self.seed)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        return {key: str(value) if isinstance(value, Path) else value for key, value in values.items()}


@dataclass
class AdaptConfig:
    """One field per ``linescribe adapt`` option; the defaults are the measured recipe."""

    data: list[str]
    output: Path
    model: str = "default"
    """The model to start from: a bundled name, a ``.safetensors`` file or a run folder."""
    val: list[str] = field(default_factory=list)
    """Lines to stop training and judge the result on (default: ``held_out`` of the lines)."""
    held_out: float = 0.2
    """Share of the lines held out when ``val`` is not given (at least 4 lines)."""
    text_rules: list[str] | None = None
    """Transcription rules for the labels (default: the ones the starting model was trained with)."""
    lr: float = 1e-3
    batch_size: int = 8
    max_steps: int = 0
    """Training steps (0: chosen from the number of lines, see ``step_budget``)."""
    patience: int = 5
    """Early stopping: validations (about every 20 steps) without a better held-out CER."""
    augment: bool = True
    seed: int = 0
    workers: int = 1
    threads: int = 0
    max_time: str | None = None
    strict: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        self.output = Path(self.output)
        if not self.data:
            raise LinescribeError("no lines to adapt to: give at least one dataset")
        if not 0.0 < self.held_out < 1.0:
            raise LinescribeError(f"--held-out must be between 0 and 1, not {self.held_out}")
        if self.max_steps < 0:
            raise LinescribeError(f"--max-steps must be 0 (automatic) or more, not {self.max_steps}")
        check_finite("lr", self.lr)
        check_at_least("lr", self.lr, 0.0, above=True)
        check_at_least("batch_size", self.batch_size, 1)
        for name in ("patience", "workers", "threads"):
            check_at_least(name, getattr(self, name), 0)
        check_max_time(self.max_time)
        check_seed(self.seed)


def check_finite(name: str, value: float) -> None:
    """NaN passes every range check (each comparison is false) and trains garbage or fails deep
    in Lightning; an infinite value fails converting to a count of steps."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise LinescribeError(f"--{name.replace('_', '-')} must be a finite number, not {value!r}")


def check_at_least(name: str, value: float, minimum: float, above: bool = False) -> None:
    """The ranges the command line's options enforce, for the Python API's configs too."""
    if value < minimum or (above and value == minimum):
        bound = f"above {minimum:g}" if above else f"at least {minimum:g}"
        raise LinescribeError(f"--{name.replace('_', '-')} must be {bound}, not {value!r}")


MAX_TIME_PATTERN = re.compile(r"\d+:\d{1,2}:\d{1,2}:\d{1,2}")


def check_max_time(max_time: str | None) -> None:
    """A --max-time must be DD:HH:MM:SS: Lightning refuses anything else with a traceback, and
    only once the data is read; a budget of no time trains nothing."""
    if max_time is None:
        return
    if not MAX_TIME_PATTERN.fullmatch(str(max_time)):
        raise LinescribeError(f"--max-time must be DD:HH:MM:SS (e.g. 00:02:30:00 for 2 h 30 min), not {max_time!r}")
    if not any(int(part) for part in str(max_time).split(":")):
        raise LinescribeError(f"--max-time {max_time} leaves no time to train")


MAX_SEED = 2**32 - 1


def check_seed(seed: int) -> None:
    """A seed Lightning and numpy both take: Lightning swaps one outside [0, 2**32) for a random
    seed with only a warning, and numpy refuses a negative one mid-run (synthetic lines)."""
    if not 0 <= seed <= MAX_SEED:
        raise LinescribeError(f"--seed must be in [0, {MAX_SEED}], not {seed}")


ACCELERATORS = ("auto", "cpu", "gpu")
DEVICES_PATTERN = re.compile(r"auto|-1|\d+(,\d+)*,?")
"""What Lightning takes as ``devices``: a count (not 0), all (-1), GPU indices (0,1 or 1,) or auto."""
OPTIMIZERS = ("adamw", "rmsprop")
PRECISIONS = ("auto", "32-true", "16-mixed", "bf16-mixed", "64-true")
RESUME_OVERRIDES = ("max_epochs", "max_steps", "max_time", "patience", "workers", "threads", "accelerator", "devices", "num_nodes", "progress", "log_every")
"""What may change when a run is resumed: its budget and the machine. Everything else (data,
splits, model, optimiser) comes from the run being resumed."""
SCHEDULERS = ("onecycle", "cosine", "plateau", "constant")
