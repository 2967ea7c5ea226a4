"""Grow a trained network without changing what it reads (function-preserving growth): a
wider ``crnn``, a deeper ``ppocr`` neck.

The bundled models underfit (docs/model-study.md): they read their own training lines nearly as
badly as unseen ones, so more capacity may pay where more steps no longer do. Training a wider
network from scratch would throw away the many CPU hours in the current one; instead new units
are added beside the trained ones with random incoming weights and *zero* outgoing weights (the
new channels of the last convolution feed nothing yet, the new LSTM units feed neither the next
layer nor the classifier), so the grown network reads exactly as the old one and training then
moves the new units into use (Chen et al., 2016, "Net2Net", with zero-initialised new
connections instead of split units). A ``ppocr`` neck grows in depth instead: a pre-norm
transformer block whose two output projections are zero adds nothing to its residual stream, so
new blocks start as the identity.
"""

from __future__ import annotations

from typing import Any

import torch

from linescribe.data.preprocess import Preprocessing
from linescribe.models.crnn import CRNN
from linescribe.models.ppocr import PPOCR, TransformerBlock

GATES = 4
"""PyTorch stacks an LSTM's four gates (input, forget, cell, output) as row blocks."""


def widen_crnn(
    old: CRNN, hparams: dict[str, Any], preprocessing: Preprocessing, lstm_hidden: int, last_channels: int, seed: int = 0
) -> tuple[CRNN, dict[str, Any]]:
    """A copy of ``old`` (built with ``hparams``) with a ``lstm_hidden``-wide BiLSTM and
    ``last_channels`` channels in its last convolution, computing the same log-probs; returns
    the network and its hyper-parameters. ``seed`` draws the new units' incoming weights."""
    old_hidden, old_channels = old.rnn.hidden_size, list(hparams["channels"])
    if lstm_hidden < old_hidden or last_channels < old_channels[-1]:
        raise ValueError(f"growth only: the model has a {old_hidden}-wide BiLSTM and {old_channels[-1]} last channels")
    grown_hparams = {**hparams, "lstm_hidden": lstm_hidden, "channels": old_channels[:-1] + [last_channels]}
    with torch.random.fork_rng():  # the caller's random streams stay as they were
        torch.manual_seed(seed)
        new = CRNN(old.num_classes, preprocessing=preprocessing, **grown_hparams)
    old_state, new_state = old.state_dict(), new.state_dict()
    last_block = f"blocks.{len(old.blocks) - 1}."
    with torch.no_grad():
        for name, tensor in new_state.items():
            source = old_state[name]
            if name.startswith("rnn."):
                _copy_lstm_tensor(name, tensor, source, old_hidden, lstm_hidden, old.rnn.input_size)
            elif name == "classifier.weight":  # the forward then the backward direction's units
                tensor.zero_()
                tensor[:, :old_hidden] = source[:, :old_hidden]
                tensor[:, lstm_hidden : lstm_hidden + old_hidden] = source[:, old_hidden:]
            elif name.startswith(last_block) and tensor.shape != source.shape:
                # new output channels: fresh filters, and a batch norm that starts as the identity
                if tensor.dim() == 1:
                    tensor.fill_(1.0 if name.endswith(("running_var", ".weight")) else 0.0)
                tensor[: source.shape[0]] = source
            else:
                tensor.copy_(source)
    new.load_state_dict(new_state)
    return new, grown_hparams


def _copy_lstm_tensor(name: str, new: torch.Tensor, old: torch.Tensor, old_hidden: int, new_hidden: int, old_inputs: int) -> None:
    """Each gate's old rows go first in its new block; of their columns the old inputs are copied
    and the new ones zeroed, so that old units ignore new ones. New rows keep their random values."""
    if name.startswith("rnn.weight_hh"):
        spans = [(0, 0, old_hidden)]
    elif name.startswith("rnn.weight_ih_l0"):
        spans = [(0, 0, old_inputs)]
    else:  # a deeper layer reads the forward then the backward outputs of the one below
        spans = [(0, 0, old_hidden), (old_hidden, new_hidden, old_hidden)]
    for gate in range(GATES):
        new_rows = slice(gate * new_hidden, gate * new_hidden + old_hidden)
        old_rows = slice(gate * old_hidden, (gate + 1) * old_hidden)
        if new.dim() == 1:  # a bias
            new[new_rows] = old[old_rows]
            continue
        new[new_rows] = 0.0
        for old_start, new_start, length in spans:
            new[new_rows, new_start : new_start + length] = old[old_rows, old_start : old_start + length]


def deepen_ppocr(
    old: PPOCR, hparams: dict[str, Any], preprocessing: Preprocessing, neck_depth: int, seed: int = 0
) -> tuple[PPOCR, dict[str, Any]]:
    """A copy of ``old`` (built with ``hparams``) whose neck has ``neck_depth`` transformer
    blocks, the new ones appended after the trained ones as identities; returns the network and
    its hyper-parameters. ``seed`` draws the new blocks' inner weights."""
    if neck_depth < hparams["neck_depth"]:
        raise ValueError(f"growth only: the model's neck has {hparams['neck_depth']} transformer blocks")
    grown_hparams = {**hparams, "neck_depth": neck_depth}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        new = PPOCR(old.num_classes, preprocessing=preprocessing, **grown_hparams)
    loaded = new.load_state_dict(old.state_dict(), strict=False)
    new_blocks = tuple(f"transformer.{index}." for index in range(hparams["neck_depth"], neck_depth))
    if loaded.unexpected_keys or not all(name.startswith(new_blocks) for name in loaded.missing_keys):
        raise ValueError(f"ppocr weights do not fit the deeper neck (missing {loaded.missing_keys[:3]}, unexpected {loaded.unexpected_keys[:3]})")
    with torch.no_grad():
        for block in list(new.transformer)[hparams["neck_depth"] :]:
            assert isinstance(block, TransformerBlock)
            for projection in (block.attn.proj, block.mlp[-1]):
                projection.weight.zero_()
                projection.bias.zero_()
    return new, grown_hparams
