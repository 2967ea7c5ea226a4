"""Widen a trained ``crnn`` model file without changing what it reads (``linescribe.models.growth``).

    python recipes/default/grow.py OUT_MODEL MODEL [--lstm-hidden 256] [--last-channels 160]

Checks on random lines that the grown model reads as the old one before it writes it; fine-tune
it with ``linescribe train --init OUT_MODEL`` and the ``--hparam`` values it prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from linescribe.modelfile.names import resolve_model_path
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models import resolve_hparams
from linescribe.models.crnn import CRNN
from linescribe.models.growth import widen_crnn

MAX_DIFFERENCE = 1e-4
"""Largest log-probability change allowed between the model and its grown copy (float32 sums)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="The grown model (.safetensors).")
    parser.add_argument("model", type=Path, help="A crnn model file, run folder or bundled name.")
    parser.add_argument("--lstm-hidden", type=int, help="New BiLSTM width (each direction); default: unchanged.")
    parser.add_argument("--last-channels", type=int, help="New channel count of the last convolution; default: unchanged.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the new units' random weights.")
    args = parser.parse_args()
    path = resolve_model_path(args.model)
    model = load_model_file(path)
    if not isinstance(model.net, CRNN):
        parser.error(f"{path}: grows crnn models only, this one is {model.arch}")
    hparams = resolve_hparams("crnn", model.hparams)
    try:
        grown, grown_hparams = widen_crnn(
            model.net, hparams, model.preprocessing, args.lstm_hidden or hparams["lstm_hidden"],
            args.last_channels or hparams["channels"][-1], args.seed,
        )
    except ValueError as error:
        parser.error(str(error))
    grown.eval()
    lines, widths = torch.rand(3, 1, model.preprocessing.height, 400), torch.tensor([400, 317, 120])
    with torch.no_grad():
        difference = (model.net(lines, widths)[0] - grown(lines, widths)[0]).abs().max().item()
    if difference > MAX_DIFFERENCE:
        raise SystemExit(f"growth changed the output (max |log p difference| {difference:.2e}): a bug, nothing written")
    old_parameters = sum(p.numel() for p in model.net.parameters())
    model.net, model.hparams = grown, grown_hparams
    model.training = {**model.training, "grown_from": f"{path.parent.name}/{path.name}"}
    save_model(model, args.output)
    options = " ".join(f"--hparam '{name}={json.dumps(grown_hparams[name], separators=(',', ':'))}'" for name in ("lstm_hidden", "channels"))
    print(
        f"{args.output}: {sum(p.numel() for p in grown.parameters()):,} parameters (was {old_parameters:,}), "
        f"max |log p difference| {difference:.1e}; fine-tune with --init {args.output} {options}"
    )


if __name__ == "__main__":
    main()
