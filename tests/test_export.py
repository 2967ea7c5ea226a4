"""ONNX export: the graph computes what PyTorch computes, for any batch and width; the file
describes itself; foreign files are refused; onnxruntime inference needs no torch."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import linescribe
from linescribe.data.batching import pad_lines
from linescribe.errors import LinescribeError, ModelFileError
from linescribe.modelfile.export import TOLERANCE, ExportError, check_onnx, export_onnx, onnx_bytes
from linescribe.inference import Recognizer
from linescribe.models import ARCHITECTURES
from linescribe.modelfile.weights import save_model
from linescribe.modelfile.onnx_runtime import OnnxNet, load_onnx_model
from linescribe.modelfile import bundled_models

from generated import random_model, render_line, write_gt_folder

TEXTS = ["the cat sat", "a dog", "on the mat and far away home", "ran"]


def _lines(model, widths, seed=0):
    rng = np.random.default_rng(seed)
    height, fixed = model.preprocessing.height, model.preprocessing.width
    return [rng.random((height, fixed or width), dtype=np.float32) for width in widths]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny crnn and its ONNX file."""
    model = random_model("crnn")
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_onnx(model, path)
    return model, path


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_exported_model_matches_pytorch_for_any_batch_and_width(arch, tmp_path):
    model = random_model(arch)
    check = export_onnx(model, tmp_path / "m.onnx")
    assert check.max_abs_diff <= 1e-3 and check.alone_abs_diff <= 1e-3
    loaded = load_onnx_model(tmp_path / "m.onnx")
    assert isinstance(loaded.net, OnnxNet)
    wide_batch = [40, 700] if model.preprocessing.width else [40, 700, 123, 64, 16]  # seed's lines are all 800 px: slow
    for widths in ([300], wide_batch):  # batch sizes and widths the trace never saw
        images, lengths = pad_lines(_lines(model, widths))
        with torch.inference_mode():
            expected, expected_lengths = (t.numpy() for t in model.net(torch.from_numpy(images), torch.from_numpy(lengths)))
        got, got_lengths = loaded.net(images, lengths)
        assert np.array_equal(got_lengths, expected_lengths)
        for line, frames in enumerate(expected_lengths):
            assert np.abs(got[:frames, line] - expected[:frames, line]).max() < 1e-4


def test_exported_graph_reads_a_line_the_same_alone_and_in_a_padded_batch(exported):
    model, path = exported
    net = load_onnx_model(path).net
    line, wider, widest = _lines(model, [67, 250, 900], seed=3)
    alone, alone_lengths = net(*pad_lines([line]))
    together, lengths = net(*pad_lines([wider, line, widest]))
    frames = int(lengths[1])
    assert frames == int(alone_lengths[0])
    assert np.abs(alone[:frames, 0] - together[:frames, 1]).max() < 1e-5


def test_the_onnx_file_describes_the_model(exported):
    model, path = exported
    loaded = linescribe.load_model(path)
    assert loaded.backend == "onnx"
    assert loaded.model.alphabet == model.alphabet and loaded.model.preprocessing == model.preprocessing
    assert (loaded.model.arch, loaded.model.name, loaded.model.hparams) == (model.arch, model.name, model.hparams)
    from linescribe.modelfile.onnx_runtime import read_onnx_document

    document = read_onnx_document(path)
    assert document["export"]["opset"] >= 17 and document["alphabet"] == model.alphabet.chars


def test_backends_read_the_same_text(exported, tmp_path):
    model, path = exported
    images = [np.asarray(render_line(text)) for text in TEXTS]
    torch_texts = [p.text for p in Recognizer(model, batch_size=3).predict(images)]
    onnx_texts = [p.text for p in linescribe.load_model(path, batch_size=3).predict(images)]
    assert onnx_texts == torch_texts and any(torch_texts)
    safetensors = save_model(model, tmp_path / "m.safetensors")
    in_memory = linescribe.load_model(safetensors, backend="onnx")
    assert in_memory.backend == "onnx" and [p.text for p in in_memory.predict(images)] == torch_texts


def test_auto_reads_a_safetensors_model_on_onnx_exporting_it_once(tmp_path, monkeypatch):
    """The fast, steady path is the default: the first load exports and caches, later loads
    (and worker processes) read the cache, and an edited model file is exported again."""
    import linescribe.modelfile.export
    from linescribe.modelfile.cache import export_cache_entry

    monkeypatch.setenv("LINESCRIBE_CACHE", str(tmp_path / "cache"))
    model = random_model("crnn")
    path = save_model(model, tmp_path / "m.safetensors")
    images = [np.asarray(render_line(text)) for text in TEXTS]
    first = linescribe.load_model(path)
    assert first.backend == "onnx" and export_cache_entry(path).is_file()
    assert [p.text for p in first.predict(images)] == [p.text for p in Recognizer(model).predict(images)]

    exports = []
    real_export = linescribe.modelfile.export.export_to_cache
    monkeypatch.setattr(
        linescribe.modelfile.export, "export_to_cache", lambda *args, **kwargs: exports.append(args) or real_export(*args, **kwargs)
    )
    assert linescribe.load_model(path).backend == "onnx" and exports == []
    save_model(random_model("crnn", seed=5), path)
    assert linescribe.load_model(path).backend == "onnx" and len(exports) == 1


def test_a_model_file_replaced_while_it_is_exported_is_not_cached_under_its_old_content(tmp_path, monkeypatch):
    """A training run rewrites model.safetensors at each better validation: the cache entry was
    named after the bytes hashed first and held the export of the bytes read next, so a kept copy
    of the old model later read as the new one."""
    import linescribe.modelfile.weights
    from linescribe.modelfile.cache import export_cache_entry

    monkeypatch.setenv("LINESCRIBE_CACHE", str(tmp_path / "cache"))
    path = save_model(random_model("crnn", seed=1), tmp_path / "m.safetensors")
    old_entry = export_cache_entry(path)
    real_load = linescribe.modelfile.weights.load_model_file

    def load_then_replace(source):
        save_model(random_model("crnn", seed=2), path)  # the run writes its next best model
        return real_load(source)

    monkeypatch.setattr(linescribe.modelfile.weights, "load_model_file", load_then_replace)
    assert linescribe.load_model(path).backend == "onnx"
    assert not old_entry.exists()


def test_a_damaged_cache_entry_is_exported_again(tmp_path, monkeypatch):
    from linescribe.modelfile.cache import export_cache_entry

    monkeypatch.setenv("LINESCRIBE_CACHE", str(tmp_path / "cache"))
    path = save_model(random_model("crnn"), tmp_path / "m.safetensors")
    entry = export_cache_entry(path)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"half an onnx file")
    assert linescribe.load_model(path).backend == "onnx"
    assert load_onnx_model(entry).net is not None


def test_auto_falls_back_to_pytorch_when_the_export_fails_its_check(tmp_path, monkeypatch, caplog):
    import linescribe.modelfile.export

    monkeypatch.setenv("LINESCRIBE_CACHE", str(tmp_path / "cache"))
    path = save_model(random_model("crnn"), tmp_path / "m.safetensors")

    def failing(model, entry, source=None):
        raise ExportError(f"{model.name}: ONNX export check failed: (simulated)")

    monkeypatch.setattr(linescribe.modelfile.export, "export_to_cache", failing)
    with caplog.at_level("WARNING"):
        assert linescribe.load_model(path).backend == "torch"
    assert "reading it with PyTorch instead" in caplog.text
    with pytest.raises(ExportError, match="simulated"):
        linescribe.load_model(path, backend="onnx")


def test_a_damaged_model_file_is_refused_as_it_is_not_read_with_pytorch_instead(tmp_path, monkeypatch, caplog):
    """The auto backend said "reading it with PyTorch instead" of a truncated file, then failed on it."""
    monkeypatch.setenv("LINESCRIBE_CACHE", str(tmp_path / "cache"))
    path = save_model(random_model("crnn"), tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:-100])
    with caplog.at_level("WARNING"), pytest.raises(ModelFileError, match="m.safetensors: damaged weights"):
        linescribe.load_model(path)
    assert "PyTorch instead" not in caplog.text


def test_an_export_of_bad_weights_fails_its_check_and_wide_minimum_widths_export():
    """NaN log-probs compared as 'no difference' (nan > limit is False); a model whose lines are
    at least 700 px wide could not draw its random check widths."""
    model = random_model("crnn")
    data, _ = onnx_bytes(model)
    with torch.no_grad():
        model.net.classifier.bias.fill_(float("nan"))
    with pytest.raises(ExportError, match="log-probs differ from PyTorch by up to nan"):
        check_onnx(model, data)
    wide = random_model("crnn")
    wide.preprocessing = dataclasses.replace(wide.preprocessing, min_width=700, max_width=2000)
    _, check = onnx_bytes(wide)
    assert set(check.widths) == {700}

def test_load_model_leaves_the_callers_torch_threads_alone_unless_told(tmp_path):
    path = save_model(random_model("crnn"), tmp_path / "m.safetensors")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        linescribe.load_model(path, backend="torch")
        assert torch.get_num_threads() == 2
        linescribe.load_model(path, backend="torch", threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_the_cache_costs_only_the_export_when_it_cannot_be_used(tmp_path, monkeypatch):
    """An entry in a folder we may not read, or a damaged one in a read-only cache: exported in
    memory and read, never an error; a copy of a model under another name keeps its own name."""
    from linescribe.modelfile.cache import export_cache_entry

    cache = tmp_path / "cache"
    monkeypatch.setenv("LINESCRIBE_CACHE", str(cache))
    unnamed = random_model("crnn")
    unnamed.name = ""  # as train writes them: the file's name names the model
    path = save_model(unnamed, tmp_path / "first.safetensors")
    entry = export_cache_entry(path)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"damaged")
    entry.parent.chmod(0o500)
    try:
        assert linescribe.load_model(path).backend == "onnx"
        assert entry.read_bytes() == b"damaged" or os.geteuid() == 0  # root may write anyway
    finally:
        entry.parent.chmod(0o700)
    linescribe.load_model(path)
    copy = tmp_path / "second.safetensors"
    copy.write_bytes(path.read_bytes())
    assert linescribe.load_model(copy).name == "second" and linescribe.load_model(path).name == "first"


def test_without_the_onnx_package_auto_reads_with_torch_and_onnx_says_why(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setenv("LINESCRIBE_CACHE", str(tmp_path / "cache"))
    path = save_model(random_model("crnn"), tmp_path / "m.safetensors")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    assert linescribe.load_model(path).backend == "torch"
    with pytest.raises(ModelFileError, match=r"m.safetensors: exporting it for onnxruntime needs the onnx package"):
        linescribe.load_model(path, backend="onnx")


def test_auto_sends_an_onnx_file_to_onnxruntime_whatever_the_device(exported):
    with pytest.raises(LinescribeError, match="the onnx backend runs on the CPU; device 'cuda' needs the torch backend"):
        linescribe.load_model(exported[1], device="cuda")


def test_an_export_that_disagrees_with_pytorch_is_refused():
    model, other = random_model("crnn", seed=0), random_model("crnn", seed=1)
    data, _ = onnx_bytes(other)
    with pytest.raises(ExportError, match=r"random-crnn: ONNX export check failed: log-probs differ from PyTorch by up to"):
        check_onnx(model, data)


def test_files_that_are_not_linescribe_onnx_models_are_refused(exported, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"definitely not protobuf")
    with pytest.raises(ModelFileError, match="garbage.onnx: not an ONNX model onnxruntime can load"):
        linescribe.load_model(garbage)
    renamed = tmp_path / "renamed.onnx"
    renamed.write_bytes(save_model(random_model(), tmp_path / "m.safetensors").read_bytes())
    with pytest.raises(ModelFileError, match="renamed.onnx: this is a safetensors model file, not ONNX"):
        linescribe.load_model(renamed)
    foreign = tmp_path / "foreign.onnx"
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph), foreign)
    with pytest.raises(ModelFileError, match="foreign.onnx: ONNX file without linescribe metadata"):
        linescribe.load_model(foreign)
    with pytest.raises(ModelFileError, match="missing.onnx: model file not found"):
        linescribe.load_model(tmp_path / "missing.onnx")
    with pytest.raises(ModelFileError, match="tiny.onnx: an ONNX model runs on the onnx backend, not torch"):
        linescribe.load_model(exported[1], backend="torch")



def _edited(path, tmp_path, name, edit):
    """A copy of the ONNX file at ``path`` whose graph or linescribe description ``edit`` changed."""
    import onnx

    proto = onnx.load(path)
    edit(proto)
    onnx.save(proto, tmp_path / name)
    return tmp_path / name


def _describe(change):
    def edit(proto):
        entry = next(e for e in proto.metadata_props if e.key == "linescribe")
        document = json.loads(entry.value)
        change(document)
        entry.value = json.dumps(document)

    return edit


def test_a_description_that_does_not_fit_its_graph_is_refused(exported, tmp_path):
    from linescribe.modelfile.onnx_runtime import read_onnx_document

    model, path = exported
    short = _edited(path, tmp_path, "short.onnx", _describe(lambda d: d.update(alphabet=d["alphabet"][:2])))
    with pytest.raises(ModelFileError, match=rf"short.onnx: the graph gives {model.alphabet.num_classes} classes but the description's alphabet has 3"):
        linescribe.load_model(short)
    with pytest.raises(ModelFileError, match="short.onnx: the graph gives"):
        read_onnx_document(short)  # linescribe info
    taller = _edited(path, tmp_path, "taller.onnx", _describe(lambda d: d["preprocess"].update(height=d["preprocess"]["height"] + 16)))
    with pytest.raises(ModelFileError, match="taller.onnx: the graph reads lines .* px high but the description says"):
        linescribe.load_model(taller)

    def identity_graph(proto, kind, image_shape):
        """Its description over a graph that passes its inputs through: of another type or rank."""
        from onnx import TensorProto, helper

        tensor = helper.make_tensor_value_info
        graph = helper.make_graph(
            [helper.make_node("Identity", ["images"], ["log_probs"]), helper.make_node("Identity", ["widths"], ["lengths"])],
            "g",
            [tensor("images", kind, image_shape), tensor("widths", TensorProto.INT64, ["N"])],
            [tensor("log_probs", kind, image_shape), tensor("lengths", TensorProto.INT64, ["N"])],
        )
        proto.graph.CopyFrom(graph)

    from onnx import TensorProto

    # an IndexError in the class count's check, and onnxruntime's own error at the first line read
    flat = _edited(path, tmp_path, "flat.onnx", lambda proto: identity_graph(proto, TensorProto.FLOAT, ["N"]))
    with pytest.raises(ModelFileError, match="flat.onnx: ONNX graph's images is a rank-1 tensor.float., expected rank-4"):
        linescribe.load_model(flat)
    half = _edited(path, tmp_path, "half.onnx", lambda proto: identity_graph(proto, TensorProto.FLOAT16, ["N", 1, "H", "W"]))
    with pytest.raises(ModelFileError, match="half.onnx: ONNX graph's images is a rank-4 tensor.float16., expected rank-4 tensor.float."):
        linescribe.load_model(half)


def test_an_onnx_file_whose_weights_hold_nan_is_refused(exported, tmp_path):
    """Regression: a safetensors file's NaN weights were refused, an ONNX file's read every line
    as nothing with NaN confidences."""
    from onnx import numpy_helper

    def poison(proto):
        weight = next(tensor for tensor in proto.graph.initializer if tensor.name == "classifier.bias")
        values = numpy_helper.to_array(weight).copy()
        values.flat[0] = np.nan
        weight.CopyFrom(numpy_helper.from_array(values, weight.name))

    damaged = _edited(exported[1], tmp_path, "nan.onnx", poison)
    with pytest.raises(ModelFileError, match="nan.onnx: the ONNX graph reads a blank line as NaN or infinite log-probabilities"):
        linescribe.load_model(damaged)


def test_an_onnx_file_cannot_make_onnxruntime_read_files_beside_it(exported, tmp_path, monkeypatch):
    from onnx import TensorProto, numpy_helper

    def move_weights_out(proto):
        tensor = max(proto.graph.initializer, key=lambda t: len(t.raw_data))
        values = numpy_helper.to_array(tensor)
        values.tofile(tmp_path / "weights.bin")
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(values.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value

    outside = _edited(exported[1], tmp_path, "outside.onnx", move_weights_out)
    monkeypatch.chdir(tmp_path)  # for bytes, onnxruntime would look in the working directory
    with pytest.raises(ModelFileError, match="outside.onnx: not an ONNX model onnxruntime can load"):
        linescribe.load_model(outside)

TORCHLESS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.modules["torch"] = None  # any `import torch` now raises ImportError
    import linescribe
    from linescribe.cli import main
    from linescribe.errors import ModelFileError

    onnx_path, safetensors_path, folder = sys.argv[1:]
    images = sorted(str(path) for path in Path(folder).glob("*.png"))
    texts = [p.text for p in linescribe.load_model(onnx_path, batch_size=3).predict(images)]
    try:
        linescribe.load_model(safetensors_path)
        refusal = ""
    except ModelFileError as error:
        refusal = str(error)
    default = linescribe.load_model()  # the bundled default: its shipped ONNX twin
    print(json.dumps({"texts": texts, "refusal": refusal, "default": [default.backend, default.predict(images[0]).text]}))
    main(["predict", onnx_path, *images, "--format", "tsv"], standalone_mode=False)
    main(["eval", onnx_path, folder, "--json"], standalone_mode=False)
    """
)


def test_an_exported_model_reads_and_scores_lines_where_torch_cannot_be_imported(exported, tmp_path):
    model, path = exported
    folder = write_gt_folder(tmp_path / "lines", TEXTS)
    images = sorted(str(image) for image in folder.glob("*.png"))
    safetensors = save_model(model, tmp_path / "m.safetensors")
    done = subprocess.run(
        [sys.executable, "-c", TORCHLESS, str(path), str(safetensors), str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first_line, *rest = done.stdout.splitlines()
    result = json.loads(first_line)
    assert result["texts"] == [p.text for p in Recognizer(model, batch_size=3).predict(images)]
    assert "m.safetensors: a .safetensors model needs torch, which is not installed" in result["refusal"]
    assert result["default"] == ["onnx", linescribe.load_model().predict(images[0]).text]
    tsv, scores = rest[: len(images) + 1], json.loads("\n".join(rest[len(images) + 1 :]))
    assert tsv[0] == "file\ttext\tconfidence" and [row.split("\t")[1] for row in tsv[1:]] == result["texts"]
    assert scores["backend"] == "onnx" and scores["lines"] == len(TEXTS)


CORE_ONLY = """
import sys
for name in ("torch", "lightning", "safetensors", "tensorboard", "onnx"):
    sys.modules[name] = None  # what `pip install linescribe` (the core, without [train]) lacks
from linescribe.cli import main
from linescribe.web import ModelService, create_app
client = create_app(ModelService.load()).test_client()
with open(sys.argv[1], "rb") as image:
    answer = client.post("/api/v1/recognize", data={"image": (image, "line.png"), "decoder": "beam_lm"})
print(answer.status_code, answer.get_json()["text"])
main(["synth", sys.argv[2], "-n", "2"], standalone_mode=False)
"""


def test_the_core_install_serves_and_synthesises_without_the_training_extra(tmp_path):
    """The core dependencies read, serve and render lines; only [train] brings torch and co."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    core = {requirement.split(">")[0].split("=")[0].split("<")[0] for requirement in project["dependencies"]}
    assert not core & {"torch", "lightning", "safetensors", "tensorboard", "onnx"}
    assert {"flask", "waitress", "fonttools", "onnxruntime"} <= core
    line = tmp_path / "line.png"
    render_line("the cat sat").save(line)
    done = subprocess.run([sys.executable, "-c", CORE_ONLY, str(line), str(tmp_path / "synth")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    status, text = done.stdout.splitlines()[0].split(" ", 1)
    assert status == "200" and text == linescribe.load_model(decoder="beam_lm").predict(np.asarray(render_line("the cat sat"))).text
    assert len(list((tmp_path / "synth").glob("*.gt.txt"))) == 2


def test_half_storage_keeps_what_fp16_holds_exactly_and_computes_alike(tmp_path):
    model = random_model()
    export_onnx(model, tmp_path / "full.onnx")
    half = export_onnx(model, tmp_path / "half.onnx", half=True)
    assert half.max_abs_diff <= 1e-3  # compared with the model rounded to fp16, as save_model(half=True)
    assert (tmp_path / "half.onnx").stat().st_size < 0.8 * (tmp_path / "full.onnx").stat().st_size
    from linescribe.modelfile.onnx_runtime import read_onnx_document

    assert read_onnx_document(tmp_path / "half.onnx")["storage"] == "float16"


@pytest.mark.parametrize("name", sorted(bundled_models()))
def test_each_bundled_model_ships_its_onnx_export(name):
    """<name>.onnx must be re-exported whenever <name>.safetensors changes (recipes/default/ship.py does)."""
    from linescribe.modelfile import read_model_document
    from linescribe.modelfile.names import onnx_twin
    from linescribe.modelfile.onnx_runtime import read_onnx_document

    source = bundled_models()[name]
    twin = onnx_twin(source)
    assert twin is not None and twin.name == f"{name}.onnx"
    shipped, exported = read_model_document(source), read_onnx_document(twin)
    assert {k: v for k, v in exported.items() if k != "export"} == shipped
    images = [np.asarray(render_line(text)) for text in TEXTS]
    by_torch, by_onnx = linescribe.load_model(name, backend="torch"), linescribe.load_model(name, backend="onnx")
    assert by_onnx.backend == "onnx" and by_onnx.model.net.session is not None
    batch = pad_lines([by_torch.model.preprocessing(image) for image in images])
    expected, _ = by_torch._forward(*batch)
    got, lengths = by_onnx._forward(*batch)
    # the bound the export check itself holds an export to; a stale export differs by far more
    assert max(np.abs(got[:n, i] - expected[:n, i]).max() for i, n in enumerate(lengths)) < TOLERANCE


def test_training_verbs_without_torch_say_so_in_one_line(tmp_path):
    script = 'import sys; sys.modules["torch"] = None\nfrom linescribe.cli import main\nmain(["train", sys.argv[1], "-o", sys.argv[2]])'
    folder = write_gt_folder(tmp_path / "lines", TEXTS)
    result = subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "linescribe: error: train needs torch, which is not installed: pip install "
        "'linescribe[train]' (this install can predict, eval, serve, synth and info)"
    )
