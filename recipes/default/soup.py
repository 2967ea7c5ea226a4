"""Average the weights of several fine-tunes of one model into one model (a uniform model soup).

    python recipes/default/soup.py OUT_RUN RUN_OR_MODEL [RUN_OR_MODEL ...] [--bn-data TRAIN_SET ...]

The models must share architecture, weight shapes, alphabet and preprocessing
(``linescribe.training.averaging`` says why soups work). A network with BatchNorm (``crnn``,
``seed``) needs ``--bn-data``: its running statistics are measured again on that many training
lines, since the mean of the models' statistics does not describe the mean of their weights.
Writes OUT_RUN/model.safetensors, described as the first model is plus the list of models
averaged and without validation figures (a soup was never validated: ``linescribe eval`` it on
the val splits, which decide whether it ships), ready for ``ship.py OUT_RUN``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from linescribe.data.dataset import load_datasets
from linescribe.errors import LinescribeError
from linescribe.modelfile.names import RUN_MODEL_FILE, resolve_model_path
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.training.averaging import average_weights, batch_norm_layers, check_same_network, line_batches, recompute_batch_norm


def soup(output: Path, sources: list[Path], bn_data: list[str], bn_lines: int, batch_size: int) -> str:
    """Write the averaged model to ``output``/model.safetensors; returns what to tell the user."""
    paths = [resolve_model_path(path) for path in sources]
    target = (output / RUN_MODEL_FILE).resolve()
    if target in {path.resolve() for path in paths}:
        raise LinescribeError(f"{output}: the soup would overwrite one of the models it averages; give another folder")
    models = [load_model_file(path) for path in paths]
    check_same_network(paths, models)
    model = average_weights(models, [f"{path.parent.name}/{path.name}" for path in paths])
    note = ""
    if batch_norm_layers(model.net):
        if not bn_data:
            raise LinescribeError(f"{paths[0]}: a {model.arch} network has BatchNorm layers: give --bn-data (training lines) to measure their statistics on the soup")
        samples = [sample for dataset in load_datasets(bn_data) for sample in dataset.samples]
        chosen = samples[:: max(1, len(samples) // bn_lines)][:bn_lines]
        seen = recompute_batch_norm(model.net, line_batches(chosen, model.preprocessing, batch_size))
        note = f", BatchNorm statistics measured on {seen:,} lines"
    output.mkdir(parents=True, exist_ok=True)
    return f"{save_model(model, target)}: the mean of {len(paths)} models{note}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="Run folder for the averaged model.")
    parser.add_argument("models", type=Path, nargs="+", help="Run folders or .safetensors models to average.")
    parser.add_argument("--bn-data", nargs="+", default=[], help="Datasets (as for train) whose lines measure BatchNorm's statistics.")
    parser.add_argument("--bn-lines", type=int, default=2000, help="How many of their lines, evenly spaced (default 2000).")
    parser.add_argument("--batch-size", type=int, default=16, help="Lines per batch when measuring (as in training).")
    args = parser.parse_args()
    try:
        print(soup(args.output, args.models, args.bn_data, args.bn_lines, args.batch_size))
    except LinescribeError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
