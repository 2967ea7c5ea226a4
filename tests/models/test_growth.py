"""Growing a trained crnn: same readings before training, and the new units can learn."""

import pytest
import torch

from linescribe.models import ARCHITECTURES, build_model, resolve_hparams
from linescribe.models.growth import widen_crnn

SPEC = ARCHITECTURES["crnn"]
HPARAMS = resolve_hparams("crnn", {**SPEC.tiny, "lstm_layers": 2})  # two layers: the second reads both directions


def _trained_looking_crnn():
    """A tiny crnn whose batch-norm statistics are not the identity, as after training."""
    torch.manual_seed(1)
    net = build_model("crnn", 9, HPARAMS)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    return net.eval()


def test_grown_crnn_reads_as_the_original():
    old = _trained_looking_crnn()
    grown, hparams = widen_crnn(old, HPARAMS, SPEC.preprocessing, lstm_hidden=48, last_channels=24)
    assert (hparams["lstm_hidden"], hparams["channels"][-1]) == (48, 24)
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in old.parameters())
    lines, widths = torch.rand(3, 1, 48, 160), torch.tensor([160, 101, 40])
    with torch.no_grad():
        before, _ = old(lines, widths)
        after, _ = grown.eval()(lines, widths)
    assert torch.allclose(before, after, atol=1e-5)


def test_new_units_get_gradients():
    """Zero outgoing weights still receive gradient, so training can put the new units to use."""
    old = _trained_looking_crnn()
    grown, _ = widen_crnn(old, HPARAMS, SPEC.preprocessing, lstm_hidden=48, last_channels=24)
    log_probs, _ = grown.train()(torch.rand(2, 1, 48, 120), torch.tensor([120, 90]))
    log_probs[:, :, 1].sum().backward()
    assert grown.classifier.weight.grad[:, 32:48].abs().sum() > 0  # the new forward units' outputs
    assert grown.rnn.weight_ih_l0.grad[:32, old.rnn.input_size :].abs().sum() > 0  # old units' weights from the new channels


def test_growth_cannot_shrink():
    with pytest.raises(ValueError, match="growth only"):
        widen_crnn(_trained_looking_crnn(), HPARAMS, SPEC.preprocessing, lstm_hidden=16, last_channels=16)
