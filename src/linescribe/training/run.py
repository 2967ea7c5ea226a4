"""``train(config)``: from dataset specs to a model file, the whole recipe in one place."""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from linescribe.alphabet import Alphabet
from linescribe.data.augment import Augmenter
from linescribe.data.dataset import LoadedDataset, drop_unwritable, load_datasets
from linescribe.data.images import image_size, load_sample_image
from linescribe.data.preprocess import Preprocessing
from linescribe.data.readers import parse_spec
from linescribe.data.sample import Point, Sample
from linescribe.data.synth import LineSynthesizer
from linescribe.data.splits import filter_by_ids, read_split_file, split_by_group, warn_unmatched_ids
from linescribe.errors import ImageError, LinescribeError
from linescribe.models import WEIGHTLESS_HPARAMS, build_model, get_architecture, resolve_hparams, weight_shaping
from linescribe.files import check_writable, write_atomically
from linescribe.modelfile.document import model_from_document, read_safetensors_document, trained_text_rules
from linescribe.modelfile.names import RUN_MODEL_FILE, resolve_model_path
from linescribe.modelfile.onnx_runtime import is_onnx_file
from linescribe.modelfile.weights import load_model_file
from linescribe.training.callbacks import (
    AtomicCheckpointIO,
    BestAndLastCheckpoint,
    CheckpointOnInterrupt,
    ExportBestModel,
    FlushLogsAtValidation,
    LineThroughput,
    PatienceAsGiven,
    TrainingProgress,
    UnreadableLines,
    record_validation_outside_fit,
)
from linescribe.training.checkpoints import read_checkpoint
from linescribe.training.config import RESUME_OVERRIDES, TrainConfig
from linescribe.training.datamodule import LineDataModule, LineDataset
from linescribe.training.module import LineRecognitionModule

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    model_path: Path
    best_val_cer: float
    epochs: float
    """Passes over the training lines, counted in steps: 40 steps of a 390-step epoch are 0.1."""
    steps: int
    lines_per_second: float
    train_lines: int
    val_lines: int
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    """Lines left out of training and validation, by reason (also logged per dataset)."""
    is_global_zero: bool = True
    """False in the other processes of a distributed run, which should stay quiet."""


@dataclasses.dataclass
class PreparedLines:
    samples: list[Sample]
    widths: list[int]
    weights: list[float]


def _input_width(sample: Sample, preprocessing: Preprocessing, width: int, height: int) -> int:
    """A line's width as the model will see it, for bucketing and the CTC length check: from its
    size alone, unless a core height makes it depend on the ink (then the image is read once:
    estimated from the size, batches were padded to lines up to 3x wider than planned)."""
    if preprocessing.core_height is None:
        return preprocessing.output_width(width, height)
    try:
        return preprocessing.input_width(load_sample_image(sample))
    except ImageError:  # the loader skips and counts it when it comes to it
        return preprocessing.output_width(width, height)


def prepare_lines(
    datasets: list[LoadedDataset],
    alphabet: Alphabet,
    preprocessing: Preprocessing,
    stride: int,
    strict: bool,
    role: str = "train",
) -> PreparedLines:
    """Drop what the model cannot learn from (unknown characters, unreadable images, lines too
    narrow for their text under CTC) and compute every line's input width for bucketing.
    Validation (``role="val"``) keeps the lines with unknown characters and the too narrow ones,
    counted: the model cannot read them right, and ``eval`` scores them, so validation does too."""
    prepared = PreparedLines([], [], [])
    sizes: dict[Path, tuple[int, int] | ImageError] = {}
    scored = role == "val"
    for dataset in datasets:
        drop_unwritable(dataset, alphabet, strict, keep=scored)
        kept = []
        for sample in dataset.samples:
            if sample.path not in sizes:  # a page image is checked once for all its lines
                try:
                    sizes[sample.path] = image_size(sample.path)
                except ImageError as error:
                    sizes[sample.path] = error
            size = sizes[sample.path]
            if isinstance(size, ImageError):
                if strict:
                    raise size
                dataset.skip(sample.id, "unreadable image")
                continue
            width, height = sample.size_hint or size
            input_width = _input_width(sample, preprocessing, width, height)
            frames = input_width // stride if preprocessing.width is None else preprocessing.width // stride
            repeats = sum(1 for a, b in zip(sample.text, sample.text[1:]) if a == b)
            if frames < len(sample.text) + repeats:
                if scored:
                    dataset.unwritable["too narrow for their text"] += 1
                elif strict:
                    raise LinescribeError(f"{dataset.spec.path}: line {sample.id}: image too narrow for its text (--strict)")
                else:
                    dataset.skip(sample.id, "line image too narrow for its text")
                    continue
            kept.append(sample)
            prepared.samples.append(sample)
            prepared.widths.append(input_width)
            prepared.weights.append(dataset.spec.weight)
        dataset.samples = kept
        log.info("%s: %s", role, dataset.summary())
    return prepared


def _select(config: TrainConfig) -> tuple[list[LoadedDataset], list[LoadedDataset]]:
    """Training and validation datasets from the specs, the id lists, or a split by document.

    Validation lines never reach training: with one dataset and id lists (IAM style), training
    takes the --train-ids lines, or else every line not listed in --val-ids; a line listed in
    --val-ids is never trained on, whether --val names its dataset again or not. With --train-ids
    alone, the validation documents are held out of the listed lines, never drawn from the
    unlisted ones (which are, in IAM's lists, the test set). Nor does a line that --val reads
    from another dataset spec (``train lines/mss19 --val lines/mss19/val``): see
    ``_drop_validation_lines``.
    """
    train_sets = load_datasets(config.train, config.strict, config.text_rules)
    val_ids = read_split_file(config.val_ids) if config.val_ids else None
    train_ids = read_split_file(config.train_ids) if config.train_ids else None
    if train_ids is not None:
        warn_unmatched_ids(config.train_ids, train_ids, (sample for dataset in train_sets for sample in dataset.samples))
    if config.val:
        val_sets = load_datasets(config.val, config.strict, config.text_rules)
        if val_ids is not None:
            warn_unmatched_ids(config.val_ids, val_ids, (sample for dataset in val_sets for sample in dataset.samples))
            for dataset in val_sets:
                dataset.samples = filter_by_ids(dataset.samples, val_ids)
            # by id only within the same dataset: another dataset's "0001" is another line
            # (the same images under another spec are left out by _drop_validation_lines)
            listed = {
                (os.path.realpath(dataset.spec.path), sample.id) for dataset in val_sets for sample in dataset.samples
            }
            for dataset in train_sets:
                where = os.path.realpath(dataset.spec.path)
                kept = []
                for sample in dataset.samples:
                    if (where, sample.id) in listed:
                        dataset.skip(sample.id, VALIDATION_LINE)
                    else:
                        kept.append(sample)
                dataset.samples = kept
    else:
        val_sets = [LoadedDataset(dataset.spec, []) for dataset in train_sets]
        if val_ids is not None:
            warn_unmatched_ids(config.val_ids, val_ids, (sample for dataset in train_sets for sample in dataset.samples))
        for dataset, held_out in zip(train_sets, val_sets):
            if val_ids is not None:
                held_out.samples = filter_by_ids(dataset.samples, val_ids)
                listed = {sample.id for sample in held_out.samples}
                dataset.samples = [sample for sample in dataset.samples if sample.id not in listed]
            else:
                listed = filter_by_ids(dataset.samples, train_ids) if train_ids is not None else dataset.samples
                dataset.samples, held_out.samples, _ = split_by_group(listed, config.val_fraction, config.seed)
    if train_ids is not None:
        for dataset in train_sets:
            dataset.samples = filter_by_ids(dataset.samples, train_ids)
    if not any(dataset.samples for dataset in val_sets):
        if config.val or val_ids is not None:
            raise LinescribeError("no validation lines: the --val datasets or --val-ids list select none")
        if train_ids is not None and not any(dataset.samples for dataset in train_sets):
            raise LinescribeError(f"{config.train_ids}: --train-ids lists none of the training data's lines or forms")
        raise LinescribeError(
            "no validation lines: the training data holds a single document, so none can be held out; "
            "give --val DATASET or --val-ids FILE"
        )
    _drop_validation_lines(train_sets, val_sets)
    return train_sets, val_sets


VALIDATION_LINE = "also a validation line"


def _drop_validation_lines(train_sets: list[LoadedDataset], val_sets: list[LoadedDataset]) -> None:
    """Leave out of training, counted as skipped, every line that validation reads too: the same
    image file (by its real path, however the specs spell it) and the same polygon. A dataset's
    top folder holds its val folder, and a validation CER on trained lines flatters the model.
    When every training line is a validation line, that was asked for (a model made to learn a
    few lines by heart): they are kept, with a warning."""
    real_paths: dict[Path, str] = {}

    def crop(sample: Sample) -> tuple[str, tuple[Point, ...] | None]:
        if sample.path not in real_paths:  # once per page image, not per line
            real_paths[sample.path] = os.path.realpath(sample.path)
        return real_paths[sample.path], sample.polygon

    validated = {crop(sample) for dataset in val_sets for sample in dataset.samples}
    if all(crop(sample) in validated for dataset in train_sets for sample in dataset.samples):
        if any(dataset.samples for dataset in train_sets):
            log.warning("every training line is also a validation line: the validation CER will not tell how well unseen lines are read")
        return
    for dataset in train_sets:
        kept = []
        for sample in dataset.samples:
            if crop(sample) in validated:
                dataset.skip(sample.id, VALIDATION_LINE)
            else:
                kept.append(sample)
        dataset.samples = kept


def _check_given_paths(config: TrainConfig) -> None:
    """The files the options name exist: found missing only after every dataset is read, a typo
    cost minutes on a large collection."""
    for name in ("train_ids", "val_ids", *(() if config.resume else ("alphabet",))):  # a resumed run's alphabet is in run.json
        path = getattr(config, name)
        if path is not None and (not path.exists() or path.is_dir()):  # a pipe (--val-ids <(cut ...)) is no regular file
            raise LinescribeError(f"{path}: --{name.replace('_', '-')} file not found")
    if config.synth_ratio > 0 and config.synth_fonts is not None and not config.synth_fonts.is_dir():
        raise LinescribeError(f"{config.synth_fonts}: --synth-fonts folder not found")


def init_model_path(init: str | Path) -> Path:
    """The model file that --init names: a file, a training run's folder or a bundled model's
    name (``default``). An ONNX export is refused: it holds no weights PyTorch can train."""
    path = resolve_model_path(init)
    if is_onnx_file(path):
        raise LinescribeError(
            f"{path}: --init needs the .safetensors model the ONNX file was exported from (ONNX cannot be trained further)"
        )
    return path


def _preprocessing(config: TrainConfig, resumed: dict[str, Any] | None) -> Preprocessing:
    """The run's preprocessing: a resumed run's own (``resumed``, from its checkpoint, so the
    --init file is not needed again), else the --init model's (a fine-tuned model reads as it
    learned to), else the architecture's; --line-height sets the height of a new run, which must
    be the --init model's, and --core-height likewise."""
    if resumed is not None:
        return Preprocessing.from_dict(resumed)
    if config.init:
        preprocessing = model_from_document(read_safetensors_document(config.init), None, config.init).preprocessing
        if config.line_height and config.line_height != preprocessing.height:
            raise LinescribeError(
                f"{config.init}: --init needs the same line height; it reads lines {preprocessing.height} px high, "
                f"not {config.line_height} (--line-height)"
            )
    else:
        preprocessing = get_architecture(config.arch).preprocessing
    if config.line_height:
        preprocessing = dataclasses.replace(preprocessing, height=config.line_height)
    if config.core_height and config.core_height != preprocessing.core_height:
        if config.init:
            raise LinescribeError(f"{config.init}: --init needs the same --core-height as the model ({preprocessing.core_height})")
        try:
            preprocessing = dataclasses.replace(preprocessing, core_height=config.core_height)
        except ValueError as error:
            raise LinescribeError(f"--core-height: {error}") from None
    return preprocessing


def extended_alphabet(init: Path, texts: Iterable[str]) -> Alphabet:
    """The --init model's alphabet, then the characters of ``texts`` (training and validation
    lines) it lacks: fine-tuning on a few lines neither forgets the characters they happen not to
    contain nor drops a line for a character the model never learned (it starts untrained, see
    ``initialise_from``; one seen only in validation lines is never learnt, and counts as an error)."""
    known = Alphabet(read_safetensors_document(init)["alphabet"])
    new = Alphabet.from_texts(texts).chars
    return Alphabet(known.chars + [char for char in new if char not in known])


def recorded_origin(training: dict[str, Any]) -> dict[str, Any] | None:
    """The third-party weights that a model file's ``training`` record says it descends from: the
    ``source`` that a converter wrote, or the ``derived_from`` that training inherited."""
    return training.get("source") or training.get("derived_from")


def inherited_origin(init: Path) -> dict[str, Any] | None:
    """The third-party weights that a model started from ``init`` descends from (e.g. PP-OCRv6's,
    under Apache-2.0, whose notice must travel with every model made from them)."""
    return recorded_origin(read_safetensors_document(init).get("training", {}))


def inherited_architecture(config: TrainConfig) -> TrainConfig:
    """A fine-tune trains the ``--init`` model's own network: its architecture and every
    hyper-parameter, so ``--init MODEL`` needs no ``--arch`` or ``--hparam`` to match it (a grown
    or otherwise non-default model included). The run may set the weightless ones (dropout)
    anew; any other difference is refused here, before minutes of reading the data. Without
    ``--text-rules`` it keeps the model's transcription rules too, as ``adapt`` does."""
    document = read_safetensors_document(config.init)
    source = model_from_document(document, None, config.init)  # hparams as a load reads them
    arch, model_hparams = source.arch, source.hparams
    if config.arch not in (None, arch):
        raise LinescribeError(f"{config.init}: --init is a {arch} model, it cannot start a {config.arch} run (leave out --arch)")
    hparams = {**model_hparams, **config.hparams}
    wanted, present = weight_shaping(resolve_hparams(arch, hparams)), weight_shaping(resolve_hparams(arch, model_hparams))
    changed = [name for name in wanted if wanted[name] != present[name]]
    if changed:
        raise LinescribeError(
            f"{config.init}: --init needs the same architecture (only {', '.join(sorted(WEIGHTLESS_HPARAMS))} may differ); "
            + ", ".join(f"--hparam {name}={json.dumps(wanted[name])} but the model has {json.dumps(present[name])}" for name in changed)
        )
    rules = config.text_rules if config.text_rules is not None else trained_text_rules(document.get("training", {}))
    return dataclasses.replace(config, arch=arch, hparams=hparams, text_rules=rules)


def initialise_from(module: LineRecognitionModule, path: Path) -> None:
    """Copy a trained model's weights into the new network. The output rows of characters that
    both alphabets share are copied too, so a model can be fine-tuned on a new alphabet."""
    source = load_model_file(path)
    if source.arch != module.hparams.arch or weight_shaping(source.hparams) != weight_shaping(module.hparams.hparams):
        raise LinescribeError(
            f"{path}: --init needs the same architecture (only {', '.join(sorted(WEIGHTLESS_HPARAMS))} may differ); "
            f"it is {source.arch} {source.hparams}, this run is {module.hparams.arch} {module.hparams.hparams}"
        )
    old_state, new_state = source.net.state_dict(), module.net.state_dict()
    old_ids = {char: index + 1 for index, char in enumerate(source.alphabet.chars)}
    rows = [(new_id + 1, old_ids[char]) for new_id, char in enumerate(module.alphabet.chars) if char in old_ids]
    for name, tensor in new_state.items():
        if name.startswith("classifier."):
            tensor[0] = old_state[name][0]  # the blank
            for new_row, old_row in rows:
                tensor[new_row] = old_state[name][old_row]
        else:
            tensor.copy_(old_state[name])
    log.info("initialised from %s (%d of %d characters known to it)", path, len(rows), len(module.alphabet))


SYNTH_CHAR_WIDTH = 0.26
"""Average width of a synthetic character in line heights, to bucket lines not yet rendered."""


def _synthetic_lines(config: TrainConfig, alphabet: Alphabet, real_lines: int) -> tuple[LineSynthesizer | None, list[str]]:
    """The synthesizer and the texts of the synthetic lines that make up ``synth_ratio`` of training."""
    if config.synth_ratio <= 0:
        return None, []
    synthesizer = LineSynthesizer(fonts_dir=config.synth_fonts, alphabet=alphabet.chars)
    count = round(real_lines * config.synth_ratio / (1.0 - config.synth_ratio))
    rng = np.random.default_rng(config.seed)
    texts = [synthesizer.sample_text(rng) for _ in range(count)]
    log.info("synthetic lines: %d, rendered on the fly with %d fonts", count, len(synthesizer.fonts))
    return synthesizer, texts


def _estimated_width(text: str, preprocessing: Preprocessing) -> int:
    return preprocessing.output_width(round(len(text) * SYNTH_CHAR_WIDTH * 96), 96)


def _accelerator_settings(config: TrainConfig) -> dict[str, Any]:
    accelerator = config.accelerator
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    precision = config.precision
    if precision == "auto":
        precision = "bf16-mixed" if accelerator == "gpu" else "32-true"
    devices: int | str = int(config.devices) if config.devices.isdigit() else config.devices
    return {"accelerator": accelerator, "devices": devices, "num_nodes": config.num_nodes, "precision": precision}


def _resumed_config(
    config: TrainConfig, run_file: Path, overrides: Collection[str] | None = None
) -> tuple[TrainConfig, Alphabet, dict[str, Any] | None]:
    """The configuration, alphabet and ``derived_from`` of the run being resumed (its --init file
    may be gone by now), with the budget and machine of
    ``config`` (only its ``overrides``, when given: the options a user typed). A budget change
    that a learning-rate schedule laid out for the whole run cannot follow is refused."""
    try:
        document = json.loads(run_file.read_text(encoding="utf-8"))
        values = dict(document["config"])
        if isinstance(values.get("val_every"), (int, float)) and values["val_every"] > 1:
            values["val_every"] = int(values["val_every"])  # what runs started before the check did with 1.5
        saved = TrainConfig(**values)
        alphabet = Alphabet(document["alphabet"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LinescribeError(f"{run_file}: cannot read the description of the run to resume ({error})") from None
    ignored = [
        name for name in vars(config)
        if name not in (*RESUME_OVERRIDES, "output", "resume") and getattr(config, name) != getattr(saved, name)
        and (overrides is None or name in overrides)  # a default left alone asks for nothing
        and not (name in ("arch", "text_rules") and getattr(config, name) is None)  # not given: the run's own
    ]
    if ignored:
        log.warning("resuming with the run's own settings for %s", ", ".join(ignored))
    saved = _anchored(saved, document.get("working_directory"))
    budget = {name: getattr(saved, name) for name in ("max_epochs", "max_steps")}
    for name in RESUME_OVERRIDES:
        if overrides is None or name in overrides:
            setattr(saved, name, getattr(config, name))
    changed = [name for name, before in budget.items() if getattr(saved, name) != before]
    if changed and saved.scheduler in ("onecycle", "cosine"):
        name = changed[0]
        raise LinescribeError(
            f"--{name.replace('_', '-')} cannot change when resuming this run: its {saved.scheduler} learning-rate "
            f"schedule was laid out for max_epochs {budget['max_epochs']}, max_steps {budget['max_steps']}; "
            "resume with that budget, or start a new run from its model with --init"
        )
    saved.output = config.output
    saved.resume = True  # run.json holds the run as it started; this is its resumption
    return saved, alphabet, document.get("derived_from")


def _anchored(config: TrainConfig, directory: str | None) -> TrainConfig:
    """The run's relative paths (datasets, id lists, alphabet, fonts, --init) made absolute in the
    folder it was started from, so that it resumes from any working folder (a cluster job's own);
    run.json records the typed paths, which model files carry too."""
    if directory is None or Path(directory).resolve() == Path.cwd().resolve():
        return config
    if not Path(directory).is_dir():
        log.warning("the run was started in %s, which is gone: its relative paths are read from here", directory)
        return config
    try:
        train, val = ([_absolute_spec(spec, Path(directory)) for spec in specs] for specs in (config.train, config.val))
    except LinescribeError as error:
        log.warning("the run's data is not found from %s, where it was started (%s): its relative paths are read from here", directory, error)
        return config
    paths = {
        name: Path(directory) / getattr(config, name)
        for name in ("train_ids", "val_ids", "alphabet", "synth_fonts", "init")
        if getattr(config, name) is not None and not getattr(config, name).is_absolute()
        and (name != "init" or (Path(directory) / config.init).exists())  # not a bundled model's name
    }
    return dataclasses.replace(config, train=train, val=val, **paths)


def _absolute_spec(spec: str, base: Path) -> str:
    """A dataset spec with its path made absolute (a relative one read from ``base``), format,
    #split and @weight as parsed."""
    parsed = parse_spec(spec, base)
    text = f"{parsed.format}:{parsed.path.resolve()}"
    if parsed.split is not None:
        text += f"#{parsed.split}"
    return text + (f"@{parsed.weight!r}" if parsed.weight != 1.0 else "")


def _warn_if_split_changed(run_file: Path, train_sets: list[LoadedDataset], val_sets: list[LoadedDataset]) -> None:
    """A resumed run reads its datasets again: if the lines it trains or validates on are not as
    many as when it started (data edited since, or a reader or split rule that changed), its
    next validation is not comparable with its best so far. Say so rather than hide it."""
    try:
        started = json.loads(run_file.read_text(encoding="utf-8"))["data"]
        before = [[entry["lines"] for entry in started[role]] for role in ("train", "val")]
    except (OSError, ValueError, KeyError, TypeError):
        return  # _resumed_config has read this file already; a run.json without counts predates them
    now = [[len(dataset.samples) for dataset in sets] for sets in (train_sets, val_sets)]
    if now != before:
        log.warning(
            "%s: the run started with %s training and %s validation lines per dataset, it now reads %s and %s; "
            "its validation CER from here on is not comparable with its best so far",
            run_file.parent, *before, *now,
        )


def has_started(output: Path) -> bool:
    """Whether ``output`` holds a run that trained: a checkpoint or a model. One that stopped before
    its first step (bad data, a machine Lightning refused) left only run.json and logs, and is
    started afresh rather than refused both as a new run and as a resume."""
    return (output / RUN_MODEL_FILE).exists() or any((output / "checkpoints").glob("*.ckpt"))


def _keep_earlier_metrics(log_dir: Path) -> None:
    """Lightning's CSV logger starts ``metrics.csv`` afresh when a run resumes: move the earlier
    rows aside first (``metrics.part1.csv``, ``part2``, …) so that no logged figure is lost."""
    current = log_dir / "metrics.csv"
    if not current.exists():
        return
    part = 1
    while (log_dir / f"metrics.part{part}.csv").exists():
        part += 1
    current.rename(log_dir / f"metrics.part{part}.csv")


def _build_trainer(config: TrainConfig, callbacks: list[L.Callback]) -> L.Trainer:
    """The Trainer; a machine it cannot set up (``--accelerator gpu`` without a GPU, more GPUs than
    there are, ``--devices 0,1`` on a CPU) is refused in one line instead of Lightning's traceback."""
    try:
        return _trainer(config, callbacks)
    except (MisconfigurationException, TypeError, ValueError) as error:
        machine = f"--accelerator {config.accelerator} --devices {config.devices} --num-nodes {config.num_nodes}"
        raise LinescribeError(f"{machine}: {' '.join(str(error).split())}") from None


def _say_if_the_budget_was_spent(trainer: L.Trainer, config: TrainConfig) -> None:
    """A resumed run whose --max-time was spent stops at once: Lightning's timer counts the whole
    run, resumes included, which a user who typed the first run's budget again does not expect."""
    timer = next((callback for callback in trainer.callbacks if isinstance(callback, Timer)), None)
    if config.resume and timer is not None and (timer.time_remaining() or 0.0) <= 0 and trainer.is_global_zero:
        log.warning(
            "--max-time %s counts the whole run, resumes included, and is spent (%s trained): give a larger one to go on",
            config.max_time, datetime.timedelta(seconds=round(timer.time_elapsed("train"))),
        )


def _trainer(config: TrainConfig, callbacks: list[L.Callback]) -> L.Trainer:
    output = config.output
    val_interval: dict[str, Any] = (
        {"val_check_interval": config.val_every} if config.val_every < 1 else {"check_val_every_n_epoch": int(config.val_every)}
    )
    return L.Trainer(
        **_accelerator_settings(config),
        max_epochs=config.max_epochs,
        max_steps=config.max_steps,
        max_time=config.max_time,
        gradient_clip_val=config.gradient_clip or None,
        callbacks=callbacks,
        logger=[CSVLogger(output, name="logs", version="csv"), TensorBoardLogger(output, name="logs", version="tensorboard")],
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=config.log_every,
        enable_progress_bar=config.progress,
        enable_model_summary=False,  # train() logs one line about the network instead
        use_distributed_sampler=False,  # DistributedBuckets shares the batches out between ranks
        num_sanity_val_steps=0,
        **val_interval,
    )


def _skipped(datasets: list[LoadedDataset], unreadable: UnreadableLines) -> dict[str, int]:
    """Lines left out, by reason: the datasets' entries dropped while reading, and the lines whose
    images failed to load during training."""
    skipped = sum((dataset.skipped for dataset in datasets), Counter())
    if unreadable.count:
        skipped["image unreadable while training"] = unreadable.count
    return dict(skipped)


def _first_process() -> bool:
    """Whether this process is the distributed run's rank 0, before Lightning knows, from the
    variables Lightning reads: RANK (torchrun); else LOCAL_RANK with NODE_RANK or GROUP_RANK (a
    launch by Lightning's own variables on each machine, whose first process has no LOCAL_RANK
    and starts the others); else SLURM_PROCID (srun); else this is the only process."""
    env = os.environ
    if "RANK" in env:
        return int(env["RANK"]) == 0
    if any(name in env for name in ("LOCAL_RANK", "NODE_RANK", "GROUP_RANK")):
        node = int(env.get("NODE_RANK") or env.get("GROUP_RANK") or 0)
        return node == 0 and int(env.get("LOCAL_RANK") or 0) == 0
    return int(env.get("SLURM_PROCID") or 0) == 0


def train(
    config: TrainConfig, callbacks: Sequence[L.Callback] = (), resume_overrides: Collection[str] | None = None
) -> TrainResult:
    """Train a model as configured; the best model (by validation CER) is ``output/model.safetensors``.

    ``callbacks``: more Lightning callbacks, e.g. to watch or record the run. ``resume_overrides``:
    with ``config.resume``, the RESUME_OVERRIDES to take from ``config`` (default: all of them);
    the others keep the resumed run's values (the command line passes the options typed)."""
    output = config.output
    run_file = output / "run.json"
    checkpoint_dir = output / "checkpoints"
    last_checkpoint = checkpoint_dir / "last.ckpt"
    # torchrun, srun and Lightning's own launcher run this function in every process of a
    # distributed run; only the first one owns the run folder's files
    first_process = _first_process()
    resumed_preprocess: dict[str, Any] | None = None
    origin: dict[str, Any] | None = None  # the third-party weights this model descends from
    started = has_started(output)
    if config.resume:
        if not last_checkpoint.exists():
            hint = "; it stopped before its first step: run it again without --resume" if run_file.exists() and not started else ""
            raise LinescribeError(f"{last_checkpoint}: nothing to resume (no checkpoint in {output}){hint}")
        # a damaged checkpoint is refused before any work; its preprocessing is the run's
        resumed_preprocess = read_checkpoint(last_checkpoint)["hyper_parameters"]["preprocess"]
        if first_process:
            for stale in output.glob("**/.*.tmp"):  # left by a write that was killed half-way
                stale.unlink()
            _keep_earlier_metrics(output / "logs" / "csv")
        config, saved_alphabet, origin = _resumed_config(config, run_file, resume_overrides)
        if origin is None and config.init and Path(config.init).is_file():  # a run.json from before derived_from
            origin = inherited_origin(Path(config.init))
    elif first_process and started:
        raise LinescribeError(f"{output} already holds a training run: add --resume to continue it, or choose another --output")
    elif first_process and run_file.exists():
        log.warning("%s: its run stopped before its first step (no checkpoint, no model): starting it afresh", output)
    if first_process:
        check_writable(output, folder=True)  # now, not after minutes of reading the data
    _check_given_paths(config)
    if config.init and not config.resume:  # a resumed run needs its --init file no more
        config = dataclasses.replace(config, init=init_model_path(config.init))
        config = inherited_architecture(config)
        origin = inherited_origin(config.init)
    if config.text_rules is None:  # no --init to take them from (a resumed run has its own)
        config = dataclasses.replace(config, text_rules=[])
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    preprocessing = _preprocessing(config, resumed_preprocess)
    # built before any data is read, so that a line height the architecture cannot read is refused
    # at once, and before seeding, so that it draws nothing from the run's random streams
    build_model(config.arch, 2, config.hparams, preprocessing)
    L.seed_everything(config.seed, workers=True, verbose=False)

    hparams = resolve_hparams(config.arch, config.hparams)
    train_sets, val_sets = _select(config)
    if config.resume:
        alphabet = saved_alphabet
    elif config.alphabet:
        alphabet = Alphabet.from_file(str(config.alphabet))
    elif config.init:
        alphabet = extended_alphabet(config.init, (s.text for d in train_sets + val_sets for s in d.samples))
    else:
        alphabet = Alphabet.from_texts(s.text for d in train_sets for s in d.samples)
    stride = build_model(config.arch, alphabet.num_classes, hparams, preprocessing).horizontal_stride
    train_lines = prepare_lines(train_sets, alphabet, preprocessing, stride, config.strict)
    val_lines = prepare_lines(val_sets, alphabet, preprocessing, stride, config.strict, role="val")
    if not train_lines.samples:
        raise LinescribeError("no usable training lines (see the summaries above)")
    if not val_lines.samples:
        raise LinescribeError("no usable validation lines (see the summaries above)")
    if config.resume:
        _warn_if_split_changed(run_file, train_sets, val_sets)

    synthesizer, synth_texts = _synthetic_lines(config, alphabet, len(train_lines.samples))
    # lines are drawn in proportion to their weight: synthetic ones weigh as much as the average
    # real line, so that --synth-ratio is their share whatever the datasets' @weights
    synthetic_weight = sum(train_lines.weights) / len(train_lines.weights)
    for text in synth_texts:
        train_lines.widths.append(_estimated_width(text, preprocessing))
        train_lines.weights.append(synthetic_weight)
    data_summary = {
        "synthetic_lines": len(synth_texts),
        "train": [{"path": str(d.spec.path), "format": d.spec.format, "weight": d.spec.weight, "lines": len(d.samples)} for d in train_sets],
        "val": [{"path": str(d.spec.path), "format": d.spec.format, "lines": len(d.samples)} for d in val_sets],
    }
    training_info: dict[str, Any] = {"config": config.to_dict(), "data": data_summary}
    if origin:
        training_info["derived_from"] = origin
    output.mkdir(parents=True, exist_ok=True)

    augmenter = Augmenter() if config.augment else None
    datamodule = LineDataModule(
        LineDataset(train_lines.samples, alphabet, preprocessing, augmenter, synthesizer, synth_texts),
        LineDataset(val_lines.samples, alphabet, preprocessing, for_scoring=True),
        train_lines.widths,
        val_lines.widths,
        config.batch_size,
        config.workers,
        config.seed,
        train_weights=train_lines.weights if len({w for w in train_lines.weights}) > 1 else None,
    )
    module = LineRecognitionModule(
        config.arch,
        hparams,
        alphabet.chars,
        preprocessing.to_dict(),
        optimizer=config.optimizer,
        lr=config.lr,
        weight_decay=config.weight_decay,
        scheduler=config.scheduler,
        val_texts=[sample.text for sample in val_lines.samples],
    )
    if config.init and not config.resume:
        initialise_from(module, config.init)
    parameters = sum(parameter.numel() for parameter in module.net.parameters())
    log.info(
        "%s: %.2f M parameters, %d characters; %d training lines%s, %d validation lines; batch size %d",
        config.arch, parameters / 1e6, len(alphabet), len(train_lines.samples),
        f" + {len(synth_texts)} synthetic" if synth_texts else "", len(val_lines.samples), config.batch_size,
    )
    throughput = LineThroughput()
    unreadable = UnreadableLines(config.strict)
    exporter = ExportBestModel(output / RUN_MODEL_FILE, training_info)
    all_callbacks: list[L.Callback] = [
        BestAndLastCheckpoint(
            dirpath=checkpoint_dir, filename="best", monitor="val_cer", mode="min", save_last=True, enable_version_counter=False
        ),
        PatienceAsGiven(monitor="val_cer", mode="min", patience=config.patience, check_on_train_epoch_end=False),
        CheckpointOnInterrupt(last_checkpoint),
        FlushLogsAtValidation(),
        exporter,
        throughput,
        unreadable,
        *([TrainingProgress()] if config.progress else []),
        *callbacks,
    ]
    trainer = _build_trainer(config, all_callbacks)
    if not config.resume and first_process:  # written once nothing can stop the run from starting
        run_document = {"alphabet": alphabet.chars, **training_info, "working_directory": os.getcwd()}
        write_atomically(run_file, json.dumps(run_document, indent=2, ensure_ascii=False).encode())
    group_was_ours = not torch.distributed.is_initialized()
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last_checkpoint) if config.resume else None)
    _say_if_the_budget_was_spent(trainer, config)
    if exporter.validated_step != trainer.global_step:
        # the budget (--max-steps, --max-time) ran out between validations: the last steps, the
        # ones at the lowest learning rate of a one-cycle schedule, are judged too, and the
        # checkpoints (written at validations) get the weights the run ended with
        trainer.validate(module, datamodule=datamodule, verbose=False)
        record_validation_outside_fit(trainer)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        unreadable.merge_across_processes()
    if unreadable.count and trainer.is_global_zero:
        log.warning("%d lines were left out: their images failed to load while training", unreadable.count)
    if group_was_ours and torch.distributed.is_initialized():
        # Lightning leaves the process group open; gloo's threads still alive at interpreter exit
        # abort the process ("terminate called without an active exception", seen in CI)
        torch.distributed.destroy_process_group()
    if trainer.is_global_zero and not (output / RUN_MODEL_FILE).exists():  # the other ranks write no model
        raise LinescribeError(f"training ended before the first validation: no model written to {output / RUN_MODEL_FILE}")
    return TrainResult(
        model_path=output / RUN_MODEL_FILE,
        best_val_cer=exporter.best_cer,
        epochs=trainer.global_step / trainer.num_training_batches if math.isfinite(trainer.num_training_batches) else float("nan"),
        steps=trainer.global_step,
        lines_per_second=throughput.lines_per_second,
        train_lines=len(train_lines.samples),
        val_lines=len(val_lines.samples),
        skipped=_skipped(train_sets + val_sets, unreadable),
        is_global_zero=trainer.is_global_zero,
    )
