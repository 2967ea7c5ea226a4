"""``adapt(config)``: fine-tune a model on tens to hundreds of corrected lines of one hand or one
collection, with settings measured for that, and keep the result only if it reads lines held out
from training at least as well as the model it started from.

It is ``train`` with ``--init`` and these choices (see the README, "Adapting a model to a hand"):
the starting model's alphabet grows by the characters of the lines that it lacks; a share of
the lines, picked at random (the same hand on both sides is the point here, so lines rather than
pages), is held out to stop training and to judge the result; both models then read the held-out
lines, and when the adapted one reads them worse the run folder's model file is the original.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L

from linescribe.data.dataset import load_datasets
from linescribe.data.sample import Sample
from linescribe.data.splits import filter_by_ids
from linescribe.data.text import parse_rules
from linescribe.errors import DatasetError, LinescribeError
from linescribe.evaluation import evaluate
from linescribe.files import text_bytes, write_atomically
from linescribe.inference import Recognizer
from linescribe.metrics import ErrorRates
from linescribe.modelfile import TrainedModel
from linescribe.modelfile.document import read_safetensors_document, trained_text_rules
from linescribe.modelfile.names import RUN_MODEL_FILE
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.training.config import AdaptConfig, TrainConfig
from linescribe.training.run import has_started, init_model_path, train

log = logging.getLogger(__name__)

HELD_OUT_FILE = "held-out.txt"
"""The ids of the lines held out, in the run folder: what the before/after CER was measured on."""
REJECTED_FILE = "rejected.safetensors"
"""Where the adapted model goes when it read the held-out lines worse than the original."""
INTERRUPTED_FILE = "interrupted.safetensors"
"""Where the best model of an adaptation stopped before its held-out check goes."""
MIN_HELD_OUT = 4
MIN_TRAIN = 4
SCHEDULER = "constant"
"""Measured at 1e-3 on 40 lines of an unseen hand: cosine decay ended at the same CER."""
EPOCHS = 15
MIN_STEPS = 150
MAX_STEPS = 500
"""The step budget: EPOCHS passes over the training lines, within these bounds. Held-out CER
levels off after 5-15 passes (25-75 steps for 40 lines, 50-200 for 160): the best validation
is kept, so more steps only cost time."""
VALIDATE_EVERY_STEPS = 20


@dataclass
class AdaptResult:
    model_path: Path
    """The run's model file: the adapted model, or a copy of the original when ``adapted`` is False."""
    adapted: bool
    """False when the adapted model read the held-out lines worse, and the original was kept."""
    cer_before: float
    """The starting model's CER on the held-out lines."""
    cer_adapted: float
    """The adapted model's CER on the same lines (kept or not)."""
    held_out_lines: int
    """Held-out lines read (an unreadable image is counted in ``skipped`` instead)."""
    train_lines: int
    new_characters: str
    """Characters of the lines that the starting model lacked, added to the alphabet."""
    skipped: dict[str, int]
    """Lines left out, by reason."""
    steps: int
    seconds: float

    @property
    def cer_after(self) -> float:
        """The CER of the model in ``model_path``."""
        return self.cer_adapted if self.adapted else self.cer_before


def step_budget(train_lines: int, batch_size: int) -> int:
    """Training steps for this many lines: EPOCHS passes over them, within [MIN_STEPS, MAX_STEPS]."""
    return max(MIN_STEPS, min(MAX_STEPS, round(EPOCHS * train_lines / batch_size)))


def validation_interval(train_lines: int, batch_size: int) -> float:
    """``val_every`` for a validation about every VALIDATE_EVERY_STEPS steps: whole epochs, or a share of one."""
    epochs = VALIDATE_EVERY_STEPS / max(math.ceil(train_lines / batch_size), 1)
    return float(round(epochs)) if epochs >= 1 else epochs


def choose_held_out(samples: Sequence[Sample], share: float, seed: int) -> list[Sample]:
    """A seeded random ``share`` of the lines, at least MIN_HELD_OUT, leaving MIN_TRAIN to train on."""
    count = max(MIN_HELD_OUT, round(share * len(samples)))
    if len(samples) < MIN_HELD_OUT + MIN_TRAIN:
        raise DatasetError(
            f"only {len(samples)} usable lines: adapting needs at least {MIN_HELD_OUT + MIN_TRAIN} "
            f"({MIN_TRAIN} to train on, {MIN_HELD_OUT} held out to check the result), or --val LINES"
        )
    if len(samples) - count < MIN_TRAIN:
        raise DatasetError(
            f"--held-out {share} holds out {count} of the {len(samples)} lines and leaves too few to train on "
            f"({len(samples) - count}, at least {MIN_TRAIN} needed): give a smaller --held-out, or --val LINES"
        )
    return random.Random(seed).sample(list(samples), count)


def _set_aside_unchecked(output: Path) -> None:
    """An adaptation stopped before the held-out check chose the run folder's model (Ctrl-C,
    SIGTERM, a crash in training or in the check) leaves no ``model.safetensors``: the best model
    so far was never compared with the original, and the run folder's model is promised to be no
    worse. It stays as ``interrupted.safetensors``."""
    model = output / RUN_MODEL_FILE
    if model.exists():
        os.replace(model, output / INTERRUPTED_FILE)
        log.warning(
            "adaptation stopped before its held-out check: %s holds the unchecked model; run adapt again with another --output",
            output / INTERRUPTED_FILE,
        )


def _read(model: TrainedModel, samples: Sequence[Sample]) -> tuple[ErrorRates, int]:
    """The model's error rates on the lines, read as ``eval`` reads them (an image that cannot be
    decoded counts as read as nothing, for both models alike), and how many lines were read."""
    result = evaluate(Recognizer(model), samples)
    return result.rates, result.rates.lines - len(result.unreadable)


def adapt(config: AdaptConfig, callbacks: Sequence[L.Callback] = ()) -> AdaptResult:
    """Fine-tune ``config.model`` on ``config.data`` into ``config.output`` (see the module)."""
    start = time.perf_counter()
    output = config.output
    if has_started(output):
        raise LinescribeError(f"{output} already holds a run: choose another --output")
    base_path = init_model_path(config.model)
    document = read_safetensors_document(base_path)
    trained_rules = trained_text_rules(document.get("training", {}))
    rules = parse_rules(config.text_rules if config.text_rules is not None else trained_rules)
    lines = [sample for dataset in load_datasets(config.data, config.strict, rules) for sample in dataset.samples]
    val_ids = None
    if config.val:
        held_out = [sample for dataset in load_datasets(config.val, config.strict, rules) for sample in dataset.samples]
        train_count = len(lines)
    else:
        # every line its id names, as training's --val-ids selects them: an id that two datasets
        # share (two folders of l1.png, l2.png...) holds out both lines, and both are checked
        held_out = filter_by_ids(lines, {sample.id for sample in choose_held_out(lines, config.held_out, config.seed)})
        train_count = len(lines) - len(held_out)
        if train_count < MIN_TRAIN:
            raise DatasetError(
                f"the held-out line ids name {len(held_out)} of the {len(lines)} lines (the datasets share ids) and leave "
                f"{train_count} to train on, at least {MIN_TRAIN} needed: give the lines distinct names, or --val LINES"
            )
        val_ids = output / HELD_OUT_FILE
        output.mkdir(parents=True, exist_ok=True)
        write_atomically(val_ids, text_bytes("".join(f"{line_id}\n" for line_id in dict.fromkeys(sample.id for sample in held_out))), durable=False)
    if not held_out:
        raise DatasetError("no held-out lines: the --val datasets hold none")
    steps = config.max_steps or step_budget(train_count, config.batch_size)
    train_config = TrainConfig(
        train=list(config.data),
        val=list(config.val),
        val_ids=val_ids,
        output=output,
        arch=document["arch"],
        hparams=document.get("hparams", {}),
        init=base_path,
        text_rules=rules,
        batch_size=config.batch_size,
        max_steps=steps,
        max_epochs=steps,  # the step budget decides
        max_time=config.max_time,
        lr=config.lr,
        scheduler=SCHEDULER,
        patience=config.patience,
        augment=config.augment,
        val_every=validation_interval(train_count, config.batch_size),
        seed=config.seed,
        workers=config.workers,
        threads=config.threads,
        strict=config.strict,
        progress=config.progress,
    )
    try:  # until the run folder's model is the checked one: the training, the held-out check, the choice
        trained = train(train_config, callbacks)
        original = load_model_file(base_path)
        adapted = load_model_file(trained.model_path)
        (before, held_out_read), (after, _) = _read(original, held_out), _read(adapted, held_out)
        cer_before, cer_adapted = before.cer, after.cer
        keep = cer_adapted <= cer_before
        new_characters = "".join(char for char in adapted.alphabet.chars if char not in original.alphabet)
        record = {
            "base_model": str(base_path),
            "held_out_lines": held_out_read,
            "cer_before": cer_before,
            "cer_adapted": cer_adapted,
            "kept": "adapted" if keep else "original",
            "new_characters": new_characters,
        }
        if keep:
            adapted.name = output.resolve().name  # "my-hand" in messages, rather than the file's stem
            adapted.training = {**adapted.training, "adaptation": record}
            save_model(adapted, trained.model_path)
        else:
            log.warning(
                "the adapted model read the held-out lines worse (CER %.2f%%, the original %.2f%%): %s is the original model",
                100 * cer_adapted, 100 * cer_before, trained.model_path,
            )
            write_atomically(output / REJECTED_FILE, trained.model_path.read_bytes())
            original.training = {**original.training, "adaptation": record}
            save_model(original, trained.model_path, half=document.get("storage") == "float16")
    except BaseException:
        _set_aside_unchecked(output)
        raise
    return AdaptResult(
        model_path=trained.model_path,
        adapted=keep,
        cer_before=cer_before,
        cer_adapted=cer_adapted,
        held_out_lines=held_out_read,
        train_lines=trained.train_lines,
        new_characters=new_characters,
        skipped=trained.skipped,
        steps=trained.steps,
        seconds=time.perf_counter() - start,
    )
