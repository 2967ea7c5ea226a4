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


def test_a_soup_is_the_mean_of_the_weights_and_carries_no_validation_figures():
    first, second = random_model("crnn", seed=1), random_model("crnn", seed=2)
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
    spelled_out = random_model("crnn", chars="abc")
    spelled_out.hparams = resolve_hparams("crnn", spelled_out.hparams)  # as a fine-tune of a grown model records them
    check_same_network([Path("a.safetensors"), Path("c.safetensors")], [first, spelled_out])


def _soup(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SOUP), *args], capture_output=True, text=True, timeout=300)


def test_soup_recipe_writes_the_mean_and_refuses_to_overwrite_an_ingredient(tmp_path):
    paths = [save_model(random_model("crnn", seed=seed), tmp_path / f"m{seed}" / "model.safetensors") for seed in (1, 2)]
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
