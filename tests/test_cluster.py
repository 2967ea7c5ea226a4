"""What ``predict --cluster`` sends its workers and how it names what comes back, without a
cluster (tests/cli/test_predict_cluster.py runs a real one)."""

from __future__ import annotations

import os

import pytest

from generated import random_model
from linescribe.decoding import DecodingOptions
from linescribe.inference import Prediction
from linescribe.large_jobs import ModelSpec, read_page_outcomes

cluster = pytest.importorskip("linescribe.cluster", reason="needs linescribe[cluster] (dask.distributed)")


def test_a_bundled_lm_name_goes_to_the_workers_as_a_name_even_beside_a_folder_of_that_name(tmp_path, monkeypatch):
    """A folder called french in the working directory was sent as /that/folder: every worker
    failed where one machine read the bundled LM."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "french").mkdir()
    (tmp_path / "words.txt").write_text("bonjour\n", encoding="utf-8")
    spec = ModelSpec(None, "onnx", 1, {"decoding": DecodingOptions("beam_lm", lm="french", lexicon="words.txt")})
    sent = cluster.for_workers(spec).options["decoding"]
    assert (sent.lm, sent.lexicon) == ("french", str(tmp_path / "words.txt"))


def test_line_errors_name_the_image_as_given_not_as_the_workers_opened_it():
    absolute = os.path.abspath("lines/missing.png")
    read = [Prediction(absolute, "", 0.0, error=f"{absolute}: image file not found"), Prediction(absolute, "text", 0.9)]
    missing, fine = cluster._as_given(read, ["lines/missing.png", "lines/fine.png"])
    assert (missing.source, missing.error) == ("lines/missing.png", "lines/missing.png: image file not found")
    assert (fine.source, fine.error) == ("lines/fine.png", "")


def test_pages_are_named_as_given_in_their_records_files_and_errors(tmp_path):
    """The workers read pages by absolute path, and the page's JSON ("image") and error held it."""
    from PIL import Image

    from linescribe.inference import Recognizer

    Image.new("L", (200, 60), 255).save(tmp_path / "blank.png")
    paths = [str(tmp_path / "blank.png"), str(tmp_path / "missing.png")]
    blank, missing = read_page_outcomes(Recognizer(random_model("crnn")), paths, ["json"], names=["in/blank.png", "in/missing.png"])
    assert blank.record["file"] == "in/blank.png" and b'"image": "in/blank.png"' in blank.files[".json"]
    assert missing.record["file"] == "in/missing.png" and missing.error == "in/missing.png: image file not found"


def test_a_model_whose_export_could_not_be_cached_still_goes_to_the_workers_as_onnx(tmp_path, monkeypatch):
    """With an export cache that cannot be written the client's export lived in memory only, and
    the .safetensors file went to workers that, on the onnx backend, need no torch to read it."""
    from linescribe.modelfile.weights import save_model

    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("LINESCRIBE_CACHE", str(blocker / "cache"))  # under a file: never writable
    path = save_model(random_model("crnn"), tmp_path / "m.safetensors")
    shipped = cluster.ship_model(ModelSpec(str(path), "onnx", 1, {}))
    assert (shipped.suffix, shipped.backend) == (".onnx", "onnx")
    assert shipped.content[:64] != path.read_bytes()[:64]
