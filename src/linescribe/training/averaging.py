"""Averaging fine-tunes of one model into one model (a uniform model soup).

Fine-tunes that start from the same model on the same data stay in one basin of the loss, and
the mean of their weights usually reads better than each of them (Wortsman et al., 2022, "Model
soups"), at no cost when reading. BatchNorm's running statistics are averaged too. They are not
weights, and stochastic weight averaging measures them again on training lines instead; here that
read worse (docs/model-study.md, session 12): measured again on 2,000 training lines, the v8 soup
read the val splits at 19.48 % (clean lines) or 19.20 % (augmented, in training's mix) against
18.80 % with the mean of its ingredients' statistics, and even a single trained model lost 0.40
points with statistics measured again (18.48 -> 18.88 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from linescribe.errors import LinescribeError
from linescribe.modelfile.document import TrainedModel
from linescribe.models import resolve_hparams, weight_shaping


def check_same_network(paths: Sequence[Path], models: Sequence[TrainedModel]) -> None:
    """Refuse, naming the file and what differs, models whose weights cannot be averaged or that
    would read lines differently (e.g. two ``ppocr`` fine-tunes of one shape but another stretch)."""

    def parts(model: TrainedModel) -> dict[str, object]:
        return {
            "architecture": model.arch,
            "hyper-parameters": weight_shaping(resolve_hparams(model.arch, model.hparams)),
            "alphabet": model.alphabet.chars,
            "preprocessing": model.preprocessing.to_dict(),
        }

    first = parts(models[0])
    for path, model in zip(paths[1:], models[1:]):
        ours = parts(model)
        differing = [name for name, value in ours.items() if value != first[name]]
        if "hyper-parameters" in differing and ours["architecture"] == first["architecture"]:
            before, after = first["hyper-parameters"], ours["hyper-parameters"]
            changes = [f"{key} {before.get(key)} vs {after.get(key)}" for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)]
            differing[differing.index("hyper-parameters")] = f"hyper-parameters ({', '.join(changes)})"
        if differing:
            raise LinescribeError(f"{path}: not the same {' and '.join(differing)} as {paths[0]}: these models cannot be averaged")


def average_weights(models: Sequence[TrainedModel], sources: Sequence[str]) -> TrainedModel:
    """The first model with every floating-point tensor replaced by the models' mean (integer
    tensors such as BatchNorm's batch counts are the first model's). Its record lists the
    ``sources`` averaged, and it carries no validation figures: a soup was never validated."""
    states = [model.net.state_dict() for model in models]
    averaged = {
        name: torch.stack([state[name].float() for state in states]).mean(0).to(tensor.dtype) if tensor.is_floating_point() else tensor
        for name, tensor in states[0].items()
    }
    soup = models[0]
    soup.net.load_state_dict(averaged)
    soup.training = {**soup.training, "averaged_from": list(sources)}
    soup.metrics = {}
    return soup
