"""Growing a trained crnn: same readings before training, new units that can learn, and a
fine-tune that starts from the grown weights."""

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from generated import random_model, tiny_train_config, write_gt_folder
from linescribe.inference import load_recognizer
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models import ARCHITECTURES, build_model, resolve_hparams
from linescribe.models.growth import deepen_ppocr, widen_crnn
from linescribe.training.run import train

SPEC = ARCHITECTURES["crnn"]
TINY_HIDDEN, TINY_LAST = SPEC.tiny["lstm_hidden"], SPEC.tiny["channels"][-1]


def _trained_looking_crnn(layers: int):
    """A tiny crnn whose batch-norm statistics are not the identity, as after training."""
    torch.manual_seed(1)
    hparams = resolve_hparams("crnn", {**SPEC.tiny, "lstm_layers": layers})
    net = build_model("crnn", 9, hparams)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    return net.eval(), hparams


@pytest.mark.parametrize("layers", [1, 2, 3])  # deeper layers read both directions of the one below
@pytest.mark.parametrize("hidden, last", [(48, TINY_LAST), (TINY_HIDDEN, 24), (48, 24)])
def test_grown_crnn_reads_as_the_original(layers, hidden, last):
    old, hparams = _trained_looking_crnn(layers)
    grown, grown_hparams = widen_crnn(old, hparams, SPEC.preprocessing, lstm_hidden=hidden, last_channels=last)
    assert (grown_hparams["lstm_hidden"], grown_hparams["channels"][-1]) == (hidden, last)
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in old.parameters())
    lines, widths = torch.rand(3, 1, 48, 160), torch.tensor([160, 101, 40])
    with torch.no_grad():
        before, _ = old(lines, widths)
        after, _ = grown.eval()(lines, widths)
    assert torch.allclose(before, after, atol=1e-5)


def test_new_units_get_gradients():
    """Zero outgoing weights still receive gradient, so training can put the new units to use."""
    old, hparams = _trained_looking_crnn(2)
    grown, _ = widen_crnn(old, hparams, SPEC.preprocessing, lstm_hidden=48, last_channels=24)
    log_probs, _ = grown.train()(torch.rand(2, 1, 48, 120), torch.tensor([120, 90]))
    log_probs[:, :, 1].sum().backward()
    assert grown.classifier.weight.grad[:, TINY_HIDDEN:48].abs().sum() > 0  # the new forward units' outputs
    assert grown.rnn.weight_ih_l0.grad[:TINY_HIDDEN, old.rnn.input_size :].abs().sum() > 0  # old units, new channels


def test_growth_cannot_shrink():
    old, hparams = _trained_looking_crnn(1)
    with pytest.raises(ValueError, match="growth only"):
        widen_crnn(old, hparams, SPEC.preprocessing, lstm_hidden=16, last_channels=16)


def test_deeper_ppocr_neck_reads_as_the_original():
    """New transformer blocks start as identities, and their output projections can learn."""
    spec = ARCHITECTURES["ppocr"]
    hparams = resolve_hparams("ppocr", spec.tiny)
    torch.manual_seed(2)
    old = build_model("ppocr", 9, hparams).eval()
    grown, grown_hparams = deepen_ppocr(old, hparams, spec.preprocessing, neck_depth=hparams["neck_depth"] + 2)
    assert len(grown.transformer) == grown_hparams["neck_depth"] == hparams["neck_depth"] + 2
    lines, widths = torch.rand(2, 1, 48, 160), torch.tensor([160, 70])
    with torch.no_grad():
        assert torch.allclose(old(lines, widths)[0], grown.eval()(lines, widths)[0], atol=1e-5)
    grown.train()(lines, widths)[0][:, :, 1].sum().backward()
    assert grown.transformer[-1].mlp[-1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="growth only"):
        deepen_ppocr(old, hparams, spec.preprocessing, neck_depth=0)


def test_a_grown_model_fine_tunes_from_its_file_alone(tmp_path, overfit_model, overfit_lines):
    """Saved, then named by --init with no --hparam: one step at a negligible learning rate
    still reads the lines the original learned by heart."""
    model = load_model_file(overfit_model)
    grown, hparams = widen_crnn(model.net, resolve_hparams("crnn", model.hparams), model.preprocessing, 48, 24)
    grown_file = save_model(dataclasses.replace(model, net=grown, hparams=hparams), tmp_path / "grown.safetensors")
    data = write_gt_folder(tmp_path / "lines", ["the cat sat", "on the mat"])
    tuned = train(tiny_train_config(data, tmp_path / "run", init=grown_file, hparams={}, max_steps=1, lr=1e-9))
    recognizer = load_recognizer(tuned.model_path)
    assert recognizer.model.hparams["lstm_hidden"] == 48
    for line in sorted(overfit_lines.glob("*.png"))[:3]:
        assert recognizer.predict(line).text == line.with_suffix(".gt.txt").read_text(encoding="utf-8").strip()


GROW = Path(__file__).resolve().parents[2] / "recipes" / "default" / "grow.py"


def _grow(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GROW), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_grow_recipe_records_each_growth_and_refuses_nan_and_growing_in_place(tmp_path):
    source = save_model(random_model("crnn", seed=4), tmp_path / "source.safetensors")
    once, twice = tmp_path / "once.safetensors", tmp_path / "twice.safetensors"
    assert _grow(once, source, "--lstm-hidden", TINY_HIDDEN + 8).returncode == 0
    assert _grow(twice, once, "--last-channels", TINY_LAST + 8).returncode == 0
    steps = load_model_file(twice).training["grown"]
    assert [step["from"] for step in steps] == [f"{tmp_path.name}/source.safetensors", f"{tmp_path.name}/once.safetensors"]
    assert steps[1]["sha256"] == hashlib.sha256(once.read_bytes()).hexdigest()
    broken = random_model("crnn", seed=4)
    with torch.no_grad():
        broken.net.classifier.bias[0] = float("nan")
    refused = _grow(tmp_path / "nan.safetensors", save_model(broken, tmp_path / "broken.safetensors"), "--lstm-hidden", TINY_HIDDEN + 8)
    assert refused.returncode != 0 and "damaged weights (weight classifier.bias is not finite everywhere)" in refused.stderr
    assert not (tmp_path / "nan.safetensors").exists()
    before = once.read_bytes()
    in_place = _grow(once, once, "--lstm-hidden", TINY_HIDDEN + 16)
    assert in_place.returncode != 0 and in_place.stderr.strip().endswith("would overwrite the model it grows; give another file")
    assert once.read_bytes() == before
