"""The line height has one owner, the model's preprocessing: set by --line-height, built into the
network, stored in the file, inherited by fine-tuning, and checked when a file is loaded."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from generated import line_texts, random_model, tiny_train_config, write_gt_folder
from linescribe.alphabet import Alphabet
from linescribe.cli import main
from linescribe.data.dataset import load_datasets
from linescribe.data.images import load_gray
from linescribe.data.preprocess import Preprocessing
from linescribe.errors import LinescribeError, ModelFileError
from linescribe.inference import load_recognizer
from linescribe.modelfile import read_model_document
from linescribe.modelfile.document import METADATA_KEY, model_from_document
from linescribe.modelfile.weights import load_model_file, save_model
from linescribe.models import build_model
from linescribe.training.run import prepare_lines, train


def test_a_model_trained_at_another_height_reads_at_that_height(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    result = train(tiny_train_config(data, tmp_path / "run", line_height=32, max_steps=2))
    document = read_model_document(result.model_path)
    assert document["preprocess"]["height"] == 32 and "input_height" not in document["hparams"]
    recognizer = load_recognizer(result.model_path, backend="torch")
    assert recognizer.model.preprocessing.height == 32
    assert recognizer.predict(sorted(data.glob("*.png"))[0]).ok

    # fine-tuning inherits the height; asking for another one is refused before any training
    tuned = train(tiny_train_config(data, tmp_path / "tuned", init=result.model_path, max_steps=1))
    assert read_model_document(tuned.model_path)["preprocess"]["height"] == 32
    with pytest.raises(LinescribeError, match="same line height"):
        train(tiny_train_config(data, tmp_path / "other", init=result.model_path, line_height=48, max_steps=1))


def test_the_network_is_built_for_its_preprocessing():
    tall, short = (build_model("crnn", 5, {}, Preprocessing(height=h)) for h in (64, 32))
    assert tall.rnn.input_size == 2 * short.rnn.input_size
    with pytest.raises(ModelFileError, match="reads 64x800 canvases only"):
        build_model("seed", 5, {}, Preprocessing(height=48))
    with pytest.raises(ModelFileError, match="--line-height"):
        build_model("crnn", 5, {"input_height": 64})


def _rewrite_document(path, change) -> None:
    """Edit the JSON document in a .safetensors header in place (same length is not needed: the
    header is rewritten whole)."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    document = json.loads(header["__metadata__"][METADATA_KEY])
    change(document)
    header["__metadata__"][METADATA_KEY] = json.dumps(document)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + data[8 + size :])


def test_files_that_state_the_height_twice_load_when_the_two_agree(tmp_path):
    path = save_model(random_model("crnn"), tmp_path / "m.safetensors")
    _rewrite_document(path, lambda d: d["hparams"].update(input_height=d["preprocess"]["height"]))
    model = load_model_file(path)
    assert "input_height" not in model.hparams and model.preprocessing.height == 48

    _rewrite_document(path, lambda d: d["hparams"].update(input_height=64))
    with pytest.raises(ModelFileError, match=r"m\.safetensors: .*input_height 64 disagrees with preprocess\.height 48"):
        load_model_file(path)


def test_a_file_that_states_the_height_twice_starts_a_fine_tune(tmp_path, overfit_model):
    """--init takes the model's hyper-parameters as a load reads them: input_height is the line
    height of older files, not a hyper-parameter to refuse."""
    from linescribe.training.run import inherited_architecture

    path = tmp_path / "old.safetensors"
    path.write_bytes(overfit_model.read_bytes())
    _rewrite_document(path, lambda d: d["hparams"].update(input_height=d["preprocess"]["height"]))
    config = inherited_architecture(tiny_train_config(tmp_path, tmp_path / "run", init=path, hparams={}))
    assert config.arch == "crnn" and "input_height" not in config.hparams


@pytest.mark.parametrize("height", [0, 4, 48.5, "48", 10_000])
def test_a_file_with_an_impossible_height_is_refused_by_name(height):
    document = {"arch": "crnn", "alphabet": list("ab"), "preprocess": {"height": height}}
    with pytest.raises(ModelFileError, match=r"x\.safetensors: damaged model description \(line height"):
        model_from_document(document, None, "x.safetensors")


def test_every_train_option_defaults_to_the_configs_value():
    from linescribe.cli.train import TRAIN_DEFAULTS, train as train_command

    fields = {param.name: param.default for param in train_command.params if param.name in TRAIN_DEFAULTS}
    assert len(fields) >= 25
    assert fields == {name: TRAIN_DEFAULTS[name] for name in fields}


def test_line_height_out_of_range_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["train", str(tmp_path), "-o", str(tmp_path / "run"), "--line-height", "4"])
    assert result.exit_code == 2 and "--line-height" in result.output


def test_a_height_the_architecture_cannot_read_is_refused_before_the_data_is_read(tmp_path):
    missing = tmp_path / "not-read-yet"
    with pytest.raises(ModelFileError, match="seed: reads 64x800 canvases only"):
        train(tiny_train_config(missing, tmp_path / "run", arch="seed", hparams={}, line_height=48))


def test_resuming_needs_neither_the_init_file_nor_the_new_option(tmp_path):
    """A fine-tune resumes from its checkpoint alone, and a run whose run.json states the height
    the old way (as the hyper-parameter input_height) resumes with that height."""
    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    base = train(tiny_train_config(data, tmp_path / "base", line_height=32, max_steps=2)).model_path
    tuned = tiny_train_config(data, tmp_path / "tuned", init=base, max_steps=2, scheduler="constant")
    train(tuned)
    base.unlink()
    run_file = tmp_path / "tuned" / "run.json"
    document = json.loads(run_file.read_text())
    document["config"].pop("line_height")
    document["config"]["hparams"]["input_height"] = 32
    run_file.write_text(json.dumps(document))
    resumed = train(tiny_train_config(data, tmp_path / "tuned", init=base, max_steps=2, resume=True))
    assert read_model_document(resumed.model_path)["preprocess"]["height"] == 32


def test_a_line_height_must_be_a_whole_number_of_pixels(tmp_path):
    with pytest.raises(LinescribeError, match="--line-height must be a whole number"):
        tiny_train_config(tmp_path, tmp_path / "run", line_height=48.5)


def test_a_model_trained_with_a_core_height_keeps_it_and_fine_tuning_cannot_change_it(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    result = train(tiny_train_config(data, tmp_path / "run", core_height=16, max_steps=2))
    assert read_model_document(result.model_path)["preprocess"]["core_height"] == 16
    recognizer = load_recognizer(result.model_path, backend="torch")
    assert recognizer.model.preprocessing.core_height == 16
    assert recognizer.predict(sorted(data.glob("*.png"))[0]).ok
    described = CliRunner().invoke(main, ["info", str(result.model_path)])
    assert "(their core band to 16 px)" in described.output
    tuned = train(tiny_train_config(data, tmp_path / "tuned", init=result.model_path, max_steps=1))
    assert read_model_document(tuned.model_path)["preprocess"]["core_height"] == 16
    with pytest.raises(LinescribeError, match="same --core-height"):
        train(tiny_train_config(data, tmp_path / "other", init=result.model_path, core_height=12, max_steps=1))
    with pytest.raises(LinescribeError, match="--core-height: core height 60"):
        train(tiny_train_config(data, tmp_path / "tall", core_height=60, max_steps=1))


def test_lines_are_bucketed_by_the_width_a_core_height_gives_them(tmp_path):
    """Bucketed by their width at the crop's height, lines up to 3x wider were padded to."""
    texts = line_texts(6)
    data = write_gt_folder(tmp_path / "lines", texts)
    cored = Preprocessing(core_height=24)
    prepared = prepare_lines(load_datasets([str(data)]), Alphabet(sorted(set("".join(texts)))), cored, 4, strict=False)
    assert prepared.widths == [cored(load_gray(sample.path)).shape[1] for sample in prepared.samples]
    assert any(width > Preprocessing().output_width(*load_gray(s.path).shape[::-1]) for width, s in zip(prepared.widths, prepared.samples))
