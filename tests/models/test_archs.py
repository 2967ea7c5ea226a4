"""Every registered architecture, in its tiny variant: shapes, lengths, save/load round trip."""

import json

import numpy as np
import pytest
import torch

from linescribe.alphabet import Alphabet
from linescribe.errors import ModelFileError
from linescribe.models import ARCHITECTURES, build_model
from linescribe.modelfile import TrainedModel, read_model_document
from linescribe.modelfile.weights import load_model_file, save_model


def _tiny(arch: str, alphabet: Alphabet) -> TrainedModel:
    spec = ARCHITECTURES[arch]
    return TrainedModel(build_model(arch, alphabet.num_classes, spec.tiny), arch, dict(spec.tiny), alphabet, spec.preprocessing)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_forward_gives_log_probs_per_frame(arch):
    spec = ARCHITECTURES[arch]
    net = build_model(arch, 11, spec.tiny).eval()
    height = spec.preprocessing.height
    width = spec.preprocessing.width or 200
    images = torch.rand(3, 1, height, width)
    widths = torch.tensor([width, width // 2, width // 3]) if spec.preprocessing.width is None else torch.full((3,), width)
    log_probs, lengths = net(images, widths)
    assert log_probs.shape[1:] == (3, 11)
    assert lengths.max() <= log_probs.shape[0]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-4)


def test_crnn_padding_does_not_change_a_line():
    """Masking and packing make a line's output independent of the longer lines batched with it."""
    net = build_model("crnn", 7, ARCHITECTURES["crnn"].tiny).eval()
    line = torch.rand(1, 1, 48, 67)  # odd width: pooling drops a column
    alone, _ = net(line, torch.tensor([67]))
    batch = torch.zeros(2, 1, 48, 160)
    batch[0, :, :, :67] = line[0]
    batch[1] = torch.rand(1, 48, 160)
    together, lengths = net(batch, torch.tensor([67, 160]))
    assert torch.allclose(alone[:, 0], together[: lengths[0], 0], atol=1e-5)


def test_a_line_reads_the_same_alone_and_in_a_padded_batch():
    """pad_batch rounds widths up, so even a batch of one holds padding that must be ignored."""
    from linescribe.data.batching import pad_batch

    net = build_model("crnn", 7, ARCHITECTURES["crnn"].tiny).eval()
    rng = np.random.default_rng(0)
    line, wider = rng.random((48, 67), dtype=np.float32), rng.random((48, 250), dtype=np.float32)
    alone, alone_lengths = net(*pad_batch([line]))
    together, lengths = net(*pad_batch([line, wider]))
    assert alone_lengths[0] == lengths[0]
    assert torch.allclose(alone[: lengths[0], 0], together[: lengths[0], 0], atol=1e-5)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
@pytest.mark.parametrize("half", [False, True])
def test_model_file_round_trip(tmp_path, arch, half):
    model = _tiny(arch, Alphabet("abc "))
    model.metrics = {"val_cer": 0.25}
    path = save_model(model, tmp_path / "m.safetensors", half=half)
    loaded = load_model_file(path)
    assert loaded.arch == arch and loaded.alphabet == model.alphabet
    assert loaded.preprocessing == model.preprocessing and loaded.metrics == {"val_cer": 0.25}
    for name, tensor in model.net.state_dict().items():
        expected = tensor.half().float() if half and tensor.is_floating_point() else tensor
        assert torch.equal(loaded.net.state_dict()[name], expected)
    assert read_model_document(path)["storage"] == ("float16" if half else "float32")


def test_model_file_is_plain_safetensors_without_pickle(tmp_path):
    path = save_model(_tiny("crnn", Alphabet("ab")), tmp_path / "m.safetensors")
    header_length = int.from_bytes(path.read_bytes()[:8], "little")
    assert path.read_bytes()[8 : 8 + header_length].startswith(b"{")  # JSON header, then raw tensors
    assert b"\x80\x04" not in path.read_bytes()[: 8 + header_length]  # no pickle protocol marker


def test_damaged_and_foreign_files_are_refused(tmp_path):
    path = save_model(_tiny("crnn", Alphabet("ab")), tmp_path / "m.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="truncated.safetensors"):
        load_model_file(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="garbage.safetensors"):
        load_model_file(garbage)
    with pytest.raises(ModelFileError, match="not found"):
        load_model_file(tmp_path / "missing.safetensors")


def test_alphabet_mismatch_is_refused(tmp_path):
    """Weights for 3 classes with an alphabet of 5 characters: refused with a clear message."""
    import json

    from safetensors.torch import save_file

    model = _tiny("crnn", Alphabet("ab"))
    document = model.describe()
    document["alphabet"] = list("abcde")
    path = tmp_path / "mismatch.safetensors"
    state = {k: v.contiguous() for k, v in model.net.state_dict().items()}
    save_file(state, str(path), metadata={"linescribe": json.dumps(document)})
    with pytest.raises(ModelFileError, match="alphabet mismatch"):
        load_model_file(path)


def test_unknown_architecture_and_hparams_are_refused():
    with pytest.raises(ModelFileError, match="known: crnn, seed"):
        build_model("resnet9000", 5)
    with pytest.raises(ModelFileError, match="no hyper-parameters"):
        build_model("crnn", 5, {"lstm_hiden": 3})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("version", "1", "version '1' is not a whole number"),
        ("hparams", "x", "damaged model description"),
        ("hparams", [1, 2], "damaged model description"),
        # each was a traceback: an unhashable arch, a name export cannot use, eval's training config
        ("arch", ["crnn"], "arch is a list, not a str"),
        ("name", [1, 2], "name is a list, not a str"),
        ("training", None, "training is a NoneType, not a dict"),
    ],
)
def test_a_damaged_description_field_is_a_one_line_refusal(tmp_path, field, value, message):
    import json

    from safetensors.torch import save_file

    model = _tiny("crnn", Alphabet("ab"))
    document = {**model.describe(), field: value}
    path = tmp_path / "odd.safetensors"
    save_file({k: v.contiguous() for k, v in model.net.state_dict().items()}, str(path), metadata={"linescribe": json.dumps(document)})
    with pytest.raises(ModelFileError, match=f"odd.safetensors: .*{message}"):
        load_model_file(path)


def _with_description(tmp_path, change):
    """The tiny crnn's weights under a description that ``change`` edited (a damaged or crafted file)."""
    import json

    from safetensors.torch import save_file

    model = _tiny("crnn", Alphabet("ab"))
    document = model.describe()
    change(document)
    path = tmp_path / "crafted.safetensors"
    save_file({k: v.contiguous() for k, v in model.net.state_dict().items()}, str(path), metadata={"linescribe": json.dumps(document)})
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # a network a million units wide: 16 TB had been allocated before any shape was compared
        (lambda d: d["hparams"].update(lstm_hidden=1_000_000), r"weight \S+ has shape .* expects"),
        (lambda d: d["hparams"].update(pools=[[2, 2], [0, 2], [2, 1]]), "pool sizes .* must be at least 1"),
        (lambda d: d["hparams"].update(pools=[[2, 2], [2, 0], [2, 1]]), "pool sizes .* must be at least 1"),
        (lambda d: d["hparams"].update(channels=["8", "12", "16"]), "cannot be built with these settings"),
        (lambda d: d["preprocess"].update(max_width=0), r"widths \[16, 0\] are not whole numbers"),
        (lambda d: d["preprocess"].update(ink_percentile=150), "percentiles ink 150, paper 90.0"),
        # 20,000 declared blocks: 25 s and 570 MB of network built before the weights were compared
        (lambda d: d["hparams"].update(channels=[8] * 20_000, pools=[[1, 1]] * 20_000), "more layers than its \\d+ weights"),
    ],
)
def test_a_description_asking_for_another_network_is_refused_before_it_is_built(tmp_path, change, message):
    with pytest.raises(ModelFileError, match=f"crafted.safetensors: .*{message}"):
        load_model_file(_with_description(tmp_path, change))


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("[" * 100_000, "damaged model description .RecursionError"),  # nested past Python's stack
        ('{"format": "linescribe.model", "version": 1' + ", \"x\": " + "9" * 5000 + "}", "damaged model description .ValueError"),
    ],
)
def test_a_description_json_cannot_crash_the_reader(tmp_path, metadata, message):
    from safetensors.torch import save_file

    model = _tiny("crnn", Alphabet("ab"))
    path = tmp_path / "odd.safetensors"
    save_file({k: v.contiguous() for k, v in model.net.state_dict().items()}, str(path), metadata={"linescribe": metadata})
    with pytest.raises(ModelFileError, match=f"odd.safetensors: {message}"):
        load_model_file(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["classifier.bias"].fill_(float("nan")), "weight classifier.bias is not finite everywhere"),
        (lambda t: t.update({"classifier.weight": t["classifier.weight"].to(torch.int8)}), "weight classifier.weight is torch.int8, not floating point"),
    ],
)
def test_weights_that_are_not_finite_floats_are_refused(tmp_path, change, message):
    """NaN weights read every line as nothing at confidence 1.0, and integer ones loaded silently."""
    from safetensors.torch import save_file

    model = _tiny("crnn", Alphabet("ab"))
    tensors = {k: v.clone().contiguous() for k, v in model.net.state_dict().items()}
    change(tensors)
    path = tmp_path / "bad.safetensors"
    save_file(tensors, str(path), metadata={"linescribe": json.dumps(model.describe())})
    with pytest.raises(ModelFileError, match=f"bad.safetensors: damaged weights \\({message}\\)"):
        load_model_file(path)


def test_a_training_record_with_a_path_that_is_not_utf8_is_saved_and_read_back(tmp_path):
    """A dataset folder with a Latin-1 name, kept in the training record, stopped the first save."""
    import os

    model = _tiny("crnn", Alphabet("ab"))
    model.training = {"datasets": [os.fsdecode(b"/data/caf\xe9")]}
    save_model(model, tmp_path / "m.safetensors")
    assert load_model_file(tmp_path / "m.safetensors").training == model.training
