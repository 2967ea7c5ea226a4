"""Test a trained default model once on the test splits and bundle it into the package.

    python recipes/default/ship.py runs/default [--data ../shared/data/lines]

Evaluates fp32 and fp16 weights with greedy decoding on each test split, keeps fp16 when its CER
is no worse than fp32's by more than 0.05 points, writes src/linescribe/pretrained/default.safetensors
with the test figures in its metadata and its checked ONNX export default.onnx beside it (what
installs without torch read), and prints the README table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path, PureWindowsPath

from linescribe.data.dataset import load_dataset
from linescribe.errors import LinescribeError
from linescribe.evaluation import evaluate
from linescribe.files import write_atomically
from linescribe.modelfile.export import onnx_bytes
from linescribe.inference import Recognizer
from linescribe.modelfile.document import read_safetensors_document
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.training.run import recorded_origin

REPO = Path(__file__).resolve().parents[2]
SPLITS = ("hooker", "copiste", "poilus", "mss19", "mss20", "peraire", "timeus")
LICENSE = "CC-BY-SA-4.0"
"""The weights' terms (src/linescribe/pretrained/README.md says why and lists the attributions)."""
PATH_OPTIONS = ("train", "val", "alphabet", "init", "train_ids", "val_ids", "synth_fonts")


def _portable(spec: str | None) -> str | None:
    """A dataset spec or file path without the builder's folders: ``gt:/tmp/x/data/hooker/train@0.5``
    -> ``gt:hooker/train@0.5``, ``/d/hooker/manifest.tsv#train`` -> ``hooker/manifest.tsv#train``,
    ``C:\\runs\\init.safetensors`` -> ``init.safetensors``."""
    if not spec:
        return spec
    fmt, colon, rest = spec.partition(":")
    if not colon or "/" in fmt or "\\" in fmt or len(fmt) == 1:  # no format prefix (or a drive letter)
        fmt, colon, rest = "", "", spec
    path, at, weight = rest.rpartition("@")
    if not at or not weight.replace(".", "", 1).isdigit():
        path, at, weight = rest, "", ""
    parts = PureWindowsPath(path).parts if "\\" in path or (len(path) > 1 and path[1] == ":") else Path(path).parts
    keep = 2 if len(parts) > 1 and (parts[-1] in ("train", "val", "test") or "#" in parts[-1] or parts[-1].endswith((".tsv", ".csv"))) else 1
    return f"{fmt}{colon}{'/'.join(parts[-keep:])}{at}{weight}"


def without_local_paths(training: dict) -> dict:
    """The training record of a model that ships: where the builder's data, run folder and
    initial model lay on their machine says nothing to a user and must not travel with it."""
    config = dict(training.get("config", {}))
    config.pop("output", None)
    for name in PATH_OPTIONS:
        value = config.get(name)
        config[name] = [_portable(v) for v in value] if isinstance(value, list) else _portable(value)
    data = {
        side: [{**entry, "path": _portable(entry["path"])} for entry in entries] if isinstance(entries, list) else entries
        for side, entries in training.get("data", {}).items()
    }
    return {**training, "config": config, "data": data}


def derived_from(training: dict) -> dict | None:
    """The third-party weights a model started from (e.g. PP-OCRv6's, whose Apache-2.0 notice
    must travel with every model made from them): the ``derived_from`` that training recorded,
    or, for runs made before training recorded it, the ``source`` or ``derived_from`` found by
    following the chain of --init models back."""
    seen: set[str] = set()
    while not (origin := recorded_origin(training)):
        init = training.get("config", {}).get("init")
        if not init or init in seen or not Path(init).is_file():
            return None
        seen.add(init)
        training = read_safetensors_document(init).get("training", {})
    return origin


def score(model_path: Path, data: Path, rules: list[str]) -> dict[str, dict]:
    recognizer = Recognizer(load_model_file(model_path), batch_size=16)
    results = {}
    for split in SPLITS:
        samples = load_dataset(str(data / split / "test"), text_rules=rules).samples
        results[split] = evaluate(recognizer, samples).summary()
    return results


def ship(run: Path, data: Path, output: Path) -> None:
    """Test ``run``'s model on ``data``'s test splits, write it and its ONNX export to ``output``
    and print the figures."""
    model = load_model_file(run / "model.safetensors")
    rules = model.training.get("config", {}).get("text_rules", [])
    full = score(run / "model.safetensors", data, rules)
    with tempfile.TemporaryDirectory() as tmp:
        half_path = save_model(model, Path(tmp) / "half.safetensors", half=True)
        half = score(half_path, data, rules)
    use_half = all(half[s]["cer"] <= full[s]["cer"] + 0.0005 for s in SPLITS)
    chosen = half if use_half else full
    model.name = output.stem  # "default", or e.g. "accurate" beside it
    lineage = derived_from(model.training)
    model.training = {**without_local_paths(model.training), "license": LICENSE, **({"derived_from": lineage} if lineage else {})}
    model.metrics = {**model.metrics, "test": {s: {k: chosen[s][k] for k in ("cer", "wer", "line_accuracy", "lines")} for s in SPLITS}}
    # both files are made and the export checked before either replaces the bundled pair, so a
    # failed export cannot leave installs without torch reading other weights than the rest
    onnx_path = output.with_suffix(".onnx")
    staged = save_model(model, output.with_name(f".{output.name}.staged"), half=use_half)
    staged_onnx = onnx_path.with_name(f".{onnx_path.name}.staged")
    try:
        onnx_data, _ = onnx_bytes(load_model_file(staged), half=use_half)  # what installs without torch read
        write_atomically(staged_onnx, onnx_data)
        os.replace(staged_onnx, onnx_path)
        os.replace(staged, output)
    finally:
        staged.unlink(missing_ok=True)
        staged_onnx.unlink(missing_ok=True)
    print(json.dumps({"fp32": full, "fp16": half, "stored": "fp16" if use_half else "fp32"}, indent=2))
    print("\n| test split | lines | CER | WER | line accuracy |\n|---|---|---|---|---|")
    for split in SPLITS:
        r = chosen[split]
        print(f"| {split} | {r['lines']} | {r['cer']:.2%} | {r['wer']:.2%} | {r['line_accuracy']:.2%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data" / "lines")
    parser.add_argument("--output", type=Path, default=REPO / "src" / "linescribe" / "pretrained" / "default.safetensors")
    args = parser.parse_args()
    try:
        ship(args.run, args.data, args.output)
    except LinescribeError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
