"""Average the weights of several fine-tunes of one model into one model (a uniform model soup).

    python recipes/default/soup.py OUT_RUN RUN_OR_MODEL [RUN_OR_MODEL ...]

Fine-tunes that start from the same model on the same data stay in one basin of the loss, and
the mean of their weights usually reads better than each of them (Wortsman et al., 2022, "Model
soups"), at no cost when reading. The models must share architecture, weight shapes, alphabet
and preprocessing. Writes OUT_RUN/model.safetensors, described as the first model is plus the
list of models averaged, ready for ``ship.py OUT_RUN``. Validation decides whether a soup ships:
it is not guaranteed to beat its best ingredient.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from linescribe.modelfile.names import RUN_MODEL_FILE, resolve_model_path
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models import weight_shaping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="Run folder for the averaged model.")
    parser.add_argument("models", type=Path, nargs="+", help="Run folders or .safetensors models to average.")
    args = parser.parse_args()
    paths = [resolve_model_path(path) for path in args.models]
    models = [load_model_file(path) for path in paths]
    first = models[0]
    for path, model in zip(paths[1:], models[1:]):
        same = (model.arch, weight_shaping(model.hparams), model.alphabet.chars, model.preprocessing.to_dict()) == (
            first.arch, weight_shaping(first.hparams), first.alphabet.chars, first.preprocessing.to_dict()
        )
        if not same:
            parser.error(f"{path}: not the same network, alphabet and preprocessing as {paths[0]}")
    states = [model.net.state_dict() for model in models]
    averaged = {
        name: torch.stack([state[name].float() for state in states]).mean(0).to(tensor.dtype) if tensor.is_floating_point() else tensor
        for name, tensor in states[0].items()
    }
    first.net.load_state_dict(averaged)
    first.training = {**first.training, "averaged_from": [f"{path.parent.name}/{path.name}" for path in paths]}
    args.output.mkdir(parents=True, exist_ok=True)
    print(f"{save_model(first, args.output / RUN_MODEL_FILE)}: the mean of {len(paths)} models")


if __name__ == "__main__":
    main()
