"""Average the weights of several fine-tunes of one model into one model (a uniform model soup).

    python recipes/default/soup.py OUT_RUN RUN_OR_MODEL [RUN_OR_MODEL ...]

The models must share architecture, hyper-parameters (dropout aside), alphabet and preprocessing
(``linescribe.training.averaging`` says why soups work, and why BatchNorm's statistics are
averaged too). Writes OUT_RUN/model.safetensors, described as the first model is plus the list of models
averaged and without validation figures (a soup was never validated: ``linescribe eval`` it on
the val splits, which decide whether it ships), ready for ``ship.py OUT_RUN``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from linescribe.errors import LinescribeError
from linescribe.modelfile.names import RUN_MODEL_FILE, resolve_model_path
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.training.averaging import average_weights, check_same_network


def soup(output: Path, sources: list[Path]) -> str:
    """Write the averaged model to ``output``/model.safetensors; returns what to tell the user."""
    paths = [resolve_model_path(path) for path in sources]
    target = (output / RUN_MODEL_FILE).resolve()
    if target in {path.resolve() for path in paths}:
        raise LinescribeError(f"{output}: the soup would overwrite one of the models it averages; give another folder")
    models = [load_model_file(path) for path in paths]
    check_same_network(paths, models)
    model = average_weights(models, [f"{path.parent.name}/{path.name}" for path in paths])
    output.mkdir(parents=True, exist_ok=True)
    return f"{save_model(model, target)}: the mean of {len(paths)} models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="Run folder for the averaged model.")
    parser.add_argument("models", type=Path, nargs="+", help="Run folders or .safetensors models to average.")
    args = parser.parse_args()
    try:
        print(soup(args.output, args.models))
    except LinescribeError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
