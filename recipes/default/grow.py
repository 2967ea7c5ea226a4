"""Grow a trained model file without changing what it reads (``linescribe.models.growth``): a
wider ``crnn`` or a deeper ``ppocr`` neck.

    python recipes/default/grow.py OUT_MODEL.safetensors MODEL [--lstm-hidden 256] [--last-channels 160]
    python recipes/default/grow.py OUT_MODEL.safetensors accurate --neck-depth 4

Checks on random lines that the grown model reads as the old one before it writes it; then
fine-tune it with ``linescribe train --init OUT_MODEL.safetensors`` (a fine-tune trains its
``--init`` model's own network, so the new widths need not be restated).
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
from functools import partial
from pathlib import Path

import torch

from linescribe.errors import LinescribeError
from linescribe.modelfile.names import resolve_model_path
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models import resolve_hparams
from linescribe.models.crnn import CRNN
from linescribe.models.growth import deepen_ppocr, widen_crnn
from linescribe.models.ppocr import PPOCR

MAX_DIFFERENCE = 1e-4
"""Largest log-probability change allowed between the model and its grown copy (float32 sums)."""


def grow(output: Path, source: Path, lstm_hidden: int | None, last_channels: int | None, neck_depth: int | None, seed: int) -> str:
    """Write the grown model to ``output``; returns what to tell the user. Raises
    ``LinescribeError`` with a one-line message naming the file for anything it refuses."""
    if output.suffix != ".safetensors":
        raise LinescribeError(f"{output}: the grown model must be a .safetensors file (ONNX cannot be trained further)")
    path = resolve_model_path(source)
    if output.resolve() == path.resolve():
        raise LinescribeError(f"{output}: would overwrite the model it grows; give another file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()  # a run folder's model changes while it trains
    model = load_model_file(path)
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        raise LinescribeError(f"{path}: changed while it was read (a run still writing it?): nothing written, try again")
    hparams = resolve_hparams(model.arch, model.hparams)
    if isinstance(model.net, CRNN) and neck_depth is None:
        before = {"lstm_hidden": hparams["lstm_hidden"], "last_channels": hparams["channels"][-1]}
        after = {"lstm_hidden": before["lstm_hidden"] if lstm_hidden is None else lstm_hidden,
                 "last_channels": before["last_channels"] if last_channels is None else last_channels}
        build = partial(widen_crnn, model.net, hparams, model.preprocessing, after["lstm_hidden"], after["last_channels"], seed)
    elif isinstance(model.net, PPOCR) and lstm_hidden is None and last_channels is None:
        before = {"neck_depth": hparams["neck_depth"]}
        after = {"neck_depth": before["neck_depth"] if neck_depth is None else neck_depth}
        build = partial(deepen_ppocr, model.net, hparams, model.preprocessing, after["neck_depth"], seed)
    else:
        raise LinescribeError(f"{path}: a {model.arch} model; crnn grows by --lstm-hidden and --last-channels, ppocr by --neck-depth")
    if after == before:
        raise LinescribeError(f"{path}: nothing to grow: give {' or '.join('--' + name.replace('_', '-') for name in before)} above the model's")
    try:
        grown, grown_hparams = build()
    except ValueError as error:
        raise LinescribeError(f"{path}: {error}") from None
    grown.eval()
    lines, widths = torch.rand(3, 1, model.preprocessing.height, 400), torch.tensor([400, 317, 120])
    with torch.no_grad():
        difference = (model.net(lines, widths)[0] - grown(lines, widths)[0]).abs().max().item()
    if not difference <= MAX_DIFFERENCE:  # also refuses nan
        raise LinescribeError(f"{path}: growth changed the output (max |log p difference| {difference:.2e}): a bug, nothing written")
    old_parameters = sum(p.numel() for p in model.net.parameters())
    growth = {
        "from": f"{path.parent.name}/{path.name}",
        "sha256": digest,
        **{name: [before[name], after[name]] for name in before},
        "seed": seed,
    }
    model.net, model.hparams = grown, grown_hparams
    earlier = model.training.get("grown", [])
    model.training = {**model.training, "grown": [*(earlier if isinstance(earlier, list) else [earlier]), growth]}
    save_model(model, output)
    return (
        f"{output}: {sum(p.numel() for p in grown.parameters()):,} parameters (was {old_parameters:,}), "
        f"max |log p difference| {difference:.1e}; fine-tune it with linescribe train --init {shlex.quote(str(output))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="The grown model (.safetensors).")
    parser.add_argument("model", type=Path, help="A crnn or ppocr model file, run folder or bundled name.")
    parser.add_argument("--lstm-hidden", type=int, help="New BiLSTM width (each direction); default: unchanged.")
    parser.add_argument("--last-channels", type=int, help="New channel count of the last convolution; default: unchanged.")
    parser.add_argument("--neck-depth", type=int, help="New number of transformer blocks in a ppocr neck.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the new units' random weights.")
    args = parser.parse_args()
    try:
        print(grow(args.output, args.model, args.lstm_hidden, args.last_channels, args.neck_depth, args.seed))
    except LinescribeError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
