"""Model soups: the mean of the weights, BatchNorm statistics measured again on the soup, and
refusals of models that cannot be averaged (recipes/default/soup.py)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from generated import random_model, write_gt_folder
from linescribe.data.dataset import load_dataset
from linescribe.errors import LinescribeError
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models import resolve_hparams
from linescribe.training.averaging import average_weights, batch_norm_layers, check_same_network, line_batches, recompute_batch_norm

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


def test_batch_norm_statistics_are_measured_on_the_soup(tmp_path):
    model = random_model("crnn", seed=3)
    layer = batch_norm_layers(model.net)[0]
    with torch.no_grad():
        layer.running_mean.fill_(5.0)  # statistics of some other network
    data = write_gt_folder(tmp_path / "lines", ["a b", "c a b", "b c", "a"])
    batch = next(line_batches(load_dataset(str(data)).samples, model.preprocessing, batch_size=8))
    inputs = []
    hook = layer.register_forward_hook(lambda module, args, output: inputs.append(args[0]))
    assert recompute_batch_norm(model.net, iter([batch])) == 4
    hook.remove()
    seen = inputs[0]  # one batch and momentum None: the running statistics are that batch's
    torch.testing.assert_close(layer.running_mean, seen.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(layer.running_var, seen.var(dim=(0, 2, 3), unbiased=True))
    assert layer.momentum is not None and not model.net.training


def test_no_readable_line_leaves_the_statistics_alone():
    model = random_model("crnn", seed=3)
    before = batch_norm_layers(model.net)[0].running_var.clone()
    with pytest.raises(LinescribeError, match="no line could be read"):
        recompute_batch_norm(model.net, iter([]))
    torch.testing.assert_close(batch_norm_layers(model.net)[0].running_var, before)


def test_models_that_cannot_be_averaged_are_named_with_what_differs(tmp_path):
    first, other_alphabet = random_model("crnn", chars="abc"), random_model("crnn", chars="abd")
    with pytest.raises(LinescribeError, match=r"b\.safetensors: not the same alphabet as a\.safetensors"):
        check_same_network([Path("a.safetensors"), Path("b.safetensors")], [first, other_alphabet])
    spelled_out = random_model("crnn", chars="abc")
    spelled_out.hparams = resolve_hparams("crnn", spelled_out.hparams)  # as a fine-tune of a grown model records them
    check_same_network([Path("a.safetensors"), Path("c.safetensors")], [first, spelled_out])


def _soup(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SOUP), *args], capture_output=True, text=True, timeout=300)


def test_soup_recipe_measures_batch_norm_and_refuses_to_overwrite_an_ingredient(tmp_path):
    paths = [save_model(random_model("crnn", seed=seed), tmp_path / f"m{seed}" / "model.safetensors") for seed in (1, 2)]
    data = write_gt_folder(tmp_path / "lines", ["a b", "c a b", "b c", "a"])
    refused = _soup(str(tmp_path / "m1"), *map(str, paths), "--bn-data", str(data))
    assert refused.returncode != 0 and refused.stderr.strip().endswith("would overwrite one of the models it averages; give another folder")
    no_data = _soup(str(tmp_path / "soup"), *map(str, paths))
    assert no_data.returncode != 0 and "give --bn-data" in no_data.stderr and "Traceback" not in no_data.stderr
    done = _soup(str(tmp_path / "soup"), *map(str, paths), "--bn-data", str(data))
    assert done.returncode == 0, done.stderr
    assert "BatchNorm statistics measured on 4 lines" in done.stdout
    soup = load_model_file(tmp_path / "soup" / "model.safetensors")
    assert soup.metrics == {} and len(soup.training["averaged_from"]) == 2
