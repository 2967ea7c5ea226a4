"""Widen a trained ``crnn`` model file without changing what it reads (``linescribe.models.growth``).

    python recipes/default/grow.py OUT_MODEL.safetensors MODEL [--lstm-hidden 256] [--last-channels 160]

Checks on random lines that the grown model reads as the old one before it writes it; then
fine-tune it with ``linescribe train --init OUT_MODEL.safetensors`` (a fine-tune trains its
``--init`` model's own network, so the new widths need not be restated).
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import torch

from linescribe.errors import LinescribeError
from linescribe.modelfile.names import resolve_model_path
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models import resolve_hparams
from linescribe.models.crnn import CRNN
from linescribe.models.growth import widen_crnn

MAX_DIFFERENCE = 1e-4
"""Largest log-probability change allowed between the model and its grown copy (float32 sums)."""


def grow(output: Path, source: Path, lstm_hidden: int | None, last_channels: int | None, seed: int) -> str:
    """Write the grown model to ``output``; returns what to tell the user. Raises
    ``LinescribeError`` with a one-line message naming the file for anything it refuses."""
    if output.suffix != ".safetensors":
        raise LinescribeError(f"{output}: the grown model must be a .safetensors file (ONNX cannot be trained further)")
    path = resolve_model_path(source)
    model = load_model_file(path)
    if not isinstance(model.net, CRNN):
        raise LinescribeError(f"{path}: only crnn models can be grown, this one is {model.arch}")
    hparams = resolve_hparams("crnn", model.hparams)
    hidden = hparams["lstm_hidden"] if lstm_hidden is None else lstm_hidden
    channels = hparams["channels"][-1] if last_channels is None else last_channels
    if (hidden, channels) == (hparams["lstm_hidden"], hparams["channels"][-1]):
        raise LinescribeError(f"{path}: nothing to grow: give a --lstm-hidden or --last-channels above the model's")
    try:
        grown, grown_hparams = widen_crnn(model.net, hparams, model.preprocessing, hidden, channels, seed)
    except ValueError as error:
        raise LinescribeError(f"{path}: {error}") from None
    grown.eval()
    lines, widths = torch.rand(3, 1, model.preprocessing.height, 400), torch.tensor([400, 317, 120])
    with torch.no_grad():
        difference = (model.net(lines, widths)[0] - grown(lines, widths)[0]).abs().max().item()
    if difference > MAX_DIFFERENCE:
        raise LinescribeError(f"{path}: growth changed the output (max |log p difference| {difference:.2e}): a bug, nothing written")
    old_parameters = sum(p.numel() for p in model.net.parameters())
    growth = {"from": f"{path.parent.name}/{path.name}", "lstm_hidden": [hparams["lstm_hidden"], hidden],
              "last_channels": [hparams["channels"][-1], channels], "seed": seed}
    model.net, model.hparams = grown, grown_hparams
    model.training = {**model.training, "grown": growth}
    save_model(model, output)
    return (
        f"{output}: {sum(p.numel() for p in grown.parameters()):,} parameters (was {old_parameters:,}), "
        f"max |log p difference| {difference:.1e}; fine-tune it with linescribe train --init {shlex.quote(str(output))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="The grown model (.safetensors).")
    parser.add_argument("model", type=Path, help="A crnn model file, run folder or bundled name.")
    parser.add_argument("--lstm-hidden", type=int, help="New BiLSTM width (each direction); default: unchanged.")
    parser.add_argument("--last-channels", type=int, help="New channel count of the last convolution; default: unchanged.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the new units' random weights.")
    args = parser.parse_args()
    try:
        print(grow(args.output, args.model, args.lstm_hidden, args.last_channels, args.seed))
    except LinescribeError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
