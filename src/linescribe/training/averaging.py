"""Averaging fine-tunes of one model into one model (a uniform model soup), with BatchNorm's
statistics measured again on the averaged network.

Fine-tunes that start from the same model on the same data stay in one basin of the loss, and
the mean of their weights usually reads better than each of them (Wortsman et al., 2022, "Model
soups"), at no cost when reading. A BatchNorm layer's running mean and variance are not weights:
they describe the activations of the network that gathered them, and the averaged network's
activations are not the mean of its ingredients' (their variance is not linear in the weights).
So a soup of networks with BatchNorm measures them again on training lines, as stochastic weight
averaging does (Izmailov et al., 2018).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from linescribe.data.batching import pad_batch, width_sorted_batches
from linescribe.data.images import load_sample_image
from linescribe.data.preprocess import Preprocessing
from linescribe.data.sample import Sample
from linescribe.errors import ImageError, LinescribeError
from linescribe.modelfile.document import TrainedModel
from linescribe.models import resolve_hparams, weight_shaping

log = logging.getLogger(__name__)


def check_same_network(paths: Sequence[Path], models: Sequence[TrainedModel]) -> None:
    """Refuse, naming the file and what differs, models whose weights cannot be averaged."""

    def parts(model: TrainedModel) -> dict[str, object]:
        return {
            "architecture": model.arch,
            "weight shapes": weight_shaping(resolve_hparams(model.arch, model.hparams)),
            "alphabet": model.alphabet.chars,
            "preprocessing": model.preprocessing.to_dict(),
        }

    first = parts(models[0])
    for path, model in zip(paths[1:], models[1:]):
        differing = [name for name, value in parts(model).items() if value != first[name]]
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


def batch_norm_layers(net: torch.nn.Module) -> list[torch.nn.modules.batchnorm._BatchNorm]:
    return [module for module in net.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.track_running_stats]


def line_batches(samples: Sequence[Sample], preprocessing: Preprocessing, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The samples preprocessed as for reading (no augmentation), in width-sorted batches as
    training's buckets are, so that padding weighs on the statistics as it did in training.
    An unreadable image is logged and left out."""
    lines: list[np.ndarray] = []
    for sample in samples:
        try:
            lines.append(preprocessing(load_sample_image(sample)))
        except ImageError as error:
            log.warning("skipping line %s: %s", sample.id, error)
    for batch in width_sorted_batches([line.shape[1] for line in lines], batch_size):
        yield pad_batch([lines[index] for index in batch])


def recompute_batch_norm(net: torch.nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> int:
    """Replace every BatchNorm layer's running statistics with their plain average over the
    batches (momentum None), the rest of the network in eval mode (no dropout); returns the
    number of lines seen. The network is left in eval mode."""
    layers = batch_norm_layers(net)
    if not layers:
        return 0
    first = next(batches, None)
    if first is None:
        raise LinescribeError("no line could be read to measure the BatchNorm statistics on")
    momenta = [layer.momentum for layer in layers]
    net.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
        layer.train()
    seen = 0
    with torch.no_grad():
        for images, widths in itertools.chain([first], batches):
            net(images, widths)
            seen += len(widths)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    net.eval()
    return seen
