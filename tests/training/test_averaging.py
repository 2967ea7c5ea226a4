"""Model soups: the mean of the weights (BatchNorm's statistics included), and refusals of
models that cannot be averaged (recipes/default/soup.py)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from generated import random_model
from linescribe.errors import LinescribeError
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models import resolve_hparams
from linescribe.training.averaging import average_weights, check_same_network

SOUP = Path(__file__).resolve().parents[2] / "recipes" / "default" / "soup.py"


def _with_batch_norm_statistics(model, seed: int):
    """A fresh network's BatchNorm statistics are all 0 and 1: give each model its own, so that a
    soup that skipped or copied them could not pass."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator))
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    return model


def test_a_soup_is_the_mean_of_the_weights_and_carries_no_validation_figures():
    first, second = (_with_batch_norm_statistics(random_model("crnn", seed=seed), seed) for seed in (1, 2))
    assert not torch.equal(first.net.state_dict()["blocks.0.1.running_mean"], second.net.state_dict()["blocks.0.1.running_mean"])
    first.metrics = {"val_cer": 0.1}
    expected = {name: (a + b) / 2 for (name, a), b in zip(first.net.state_dict().items(), second.net.state_dict().values()) if a.is_floating_point()}
    soup = average_weights([first, second], ["a/model.safetensors", "b/model.safetensors"])
    for name, tensor in soup.net.state_dict().items():
        if name in expected:
            torch.testing.assert_close(tensor, expected[name])
    assert soup.metrics == {} and soup.training["averaged_from"] == ["a/model.safetensors", "b/model.safetensors"]


def test_models_that_cannot_be_averaged_are_named_with_what_differs(tmp_path):
    first, other_alphabet = random_model("crnn", chars="abc"), random_model("crnn", chars="abd")
    with pytest.raises(LinescribeError, match=r"b\.safetensors: not the same alphabet as a\.safetensors"):
        check_same_network([Path("a.safetensors"), Path("b.safetensors")], [first, other_alphabet])
    other_shape = random_model("crnn", chars="abc")
    other_shape.hparams = {**other_shape.hparams, "lstm_hidden": 24}
    with pytest.raises(LinescribeError, match=r"b\.safetensors: not the same hyper-parameters \(lstm_hidden 32 vs 24\)"):
        check_same_network([Path("a.safetensors"), Path("b.safetensors")], [first, other_shape])
    spelled_out = random_model("crnn", chars="abc")
    spelled_out.hparams = resolve_hparams("crnn", spelled_out.hparams)  # as a fine-tune of a grown model records them
    check_same_network([Path("a.safetensors"), Path("c.safetensors")], [first, spelled_out])


def _soup(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SOUP), *args], capture_output=True, text=True, timeout=300)


def test_soup_recipe_writes_the_mean_and_refuses_to_overwrite_an_ingredient(tmp_path):
    models = [_with_batch_norm_statistics(random_model("crnn", seed=seed), seed) for seed in (1, 2)]
    paths = [save_model(model, tmp_path / f"m{index}" / "model.safetensors") for index, model in enumerate(models, 1)]
    refused = _soup(str(tmp_path / "m1"), *map(str, paths))
    assert refused.returncode != 0 and refused.stderr.strip().endswith("would overwrite one of the models it averages; give another folder")
    other = random_model("crnn", chars="xyz", seed=3)
    mismatched = _soup(str(tmp_path / "soup"), str(paths[0]), str(save_model(other, tmp_path / "other.safetensors")))
    assert mismatched.returncode != 0 and "not the same alphabet" in mismatched.stderr and "Traceback" not in mismatched.stderr
    done = _soup(str(tmp_path / "soup"), *map(str, paths))
    assert done.returncode == 0, done.stderr
    soup = load_model_file(tmp_path / "soup" / "model.safetensors")
    assert soup.metrics == {} and len(soup.training["averaged_from"]) == 2
    first, second = (load_model_file(path).net.state_dict() for path in paths)
    for name, tensor in soup.net.state_dict().items():  # BatchNorm's statistics included
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, (first[name] + second[name]) / 2)
