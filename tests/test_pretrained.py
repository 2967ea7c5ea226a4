"""The bundled default model: it loads with no argument and really reads handwriting-like lines.

The lines are rendered at test time by ``synth`` with the bundled fonts, so this checks the shipped
weights and the whole preprocessing path, not a stored snapshot of their output.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import linescribe
from linescribe.data.synth import LineSynthesizer
from linescribe.metrics import error_rates
from linescribe.modelfile import bundled_models

SENTENCES = [
    "The garden was full of roses and lilies",
    "Thank you for your kind letter of the 12th",
    "Je vous remercie de votre lettre du 3 mai",
    "We shall leave London on Monday next",
    "Il faisait très beau ce matin-là",
    "I have sent the seeds to Kew today",
]


@pytest.fixture(scope="module")
def default_recognizer():
    if "default" not in bundled_models():
        pytest.fail("the default model is not bundled in src/linescribe/pretrained/")
    return linescribe.load_model()


def test_default_model_is_described(default_recognizer):
    model = default_recognizer.model
    assert model.name == "default" and model.arch == "crnn"
    assert {"a", "Z", "é", "ç", "7", "'", ","} <= set(model.alphabet.chars)
    assert set(model.metrics["test"]) == {"hooker", "copiste", "poilus", "mss19", "mss20", "peraire", "timeus"}


def _rendered_cer(recognizer) -> tuple[float, list[tuple[str, str]]]:
    synthesizer = LineSynthesizer()
    rng = np.random.default_rng(12)
    images = [synthesizer.render(text, rng) for text in SENTENCES for _ in range(2)]
    references = [text for text in SENTENCES for _ in range(2)]
    predictions = [p.text for p in recognizer.predict(images)]
    return error_rates(references, predictions).cer, list(zip(references, predictions))


@pytest.mark.parametrize("name", sorted(bundled_models()))
def test_each_bundled_model_reads_rendered_lines(name):
    """The issue's check of the shipped weights and the preprocessing path: broken preprocessing
    or damaged weights give a CER far above 5 % (v14 `default` measures 2.2 %, v13 2.2 %, v12 2.2 %, v11 2.0 %, v10 2.9 %, v9 1.8 %, v8 2.0 %; `accurate` v7 1.3 %, v6 1.3 %, v5 1.6 %, v4 1.6 %, v2 0.9 %)."""
    cer, pairs = _rendered_cer(linescribe.load_model(name))
    assert cer < 0.05, pairs


@pytest.mark.parametrize("decoder", ["greedy", "beam", "beam_lm"])
def test_a_line_without_ink_reads_as_nothing_beside_lines_with_text(default_recognizer, decoder):
    """Plain paper (an empty crop from a page, a scanner's margin) has no text: without the
    blank-line rule the default model read a white line as "d" and a grey one as "p"."""
    from linescribe.decoding import DecodingOptions
    from linescribe.inference import Recognizer

    recognizer = Recognizer(default_recognizer.model, DecodingOptions(decoder))
    rng = np.random.default_rng(0)
    noisy_paper = (248 + rng.integers(0, 6, size=(48, 400))).astype(np.uint8)
    written = LineSynthesizer().render(SENTENCES[0], np.random.default_rng(12))
    blank_lines = [np.full((48, 400), 255, np.uint8), np.full((60, 500), 128, np.uint8), noisy_paper]
    predictions = recognizer.predict([written, *blank_lines])
    assert [p.text for p in predictions[1:]] == ["", "", ""]
    assert error_rates([SENTENCES[0]], [predictions[0].text]).cer < 0.2


def test_the_accurate_model_is_described_and_credits_the_weights_it_was_made_from():
    """PP-OCRv6's Apache-2.0 terms travel with every model made from its weights: the file says
    where they came from, and the package ships the licence text beside it."""
    from linescribe.modelfile import read_model_document
    from linescribe.modelfile.names import PRETRAINED_DIR

    document = read_model_document("accurate")
    assert document["name"] == "accurate" and document["arch"] == "ppocr"
    assert set(document["metrics"]["test"]) == {"hooker", "copiste", "poilus", "mss19", "mss20", "peraire", "timeus"}
    origin = document["training"]["derived_from"]
    assert "PP-OCRv6" in origin["model"] and origin["license"].startswith("Apache-2.0")
    assert "Apache License" in (PRETRAINED_DIR / "LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")
    card = (PRETRAINED_DIR / "README.md").read_text(encoding="utf-8")
    assert "Model card: `accurate`" in card and "PaddleOCR" in card


def test_shipped_models_hold_no_paths_of_the_machine_they_were_built_on():
    """A model file travels: the builder's folders (/tmp/run, .gpu/data/...) mean nothing to a
    user, and ship.py strips them."""
    from linescribe.modelfile import read_model_document
    from linescribe.modelfile.onnx_runtime import read_onnx_document
    from linescribe.modelfile import bundled_models
    from linescribe.modelfile.names import onnx_twin

    for path in bundled_models().values():
        for document in (read_model_document(path), read_onnx_document(onnx_twin(path))):
            text = json.dumps(document["training"])
            assert "/tmp" not in text and ".gpu" not in text and "/work" not in text and "../" not in text
            assert document["training"]["license"]


def test_each_bundled_onnx_file_describes_the_same_model_as_its_safetensors():
    """Installs without torch read the ONNX twin, everyone else the safetensors: ship.py replaces
    both, and a pair from two different ships (different training records or test figures)
    would read differently with no other sign."""
    from linescribe.modelfile import read_model_document
    from linescribe.modelfile.onnx_runtime import read_onnx_document
    from linescribe.modelfile.names import onnx_twin

    for name, path in bundled_models().items():
        onnx_document = read_onnx_document(onnx_twin(path))
        onnx_document.pop("export")
        assert onnx_document == read_model_document(path), name


def test_a_folder_or_file_named_like_a_bundled_model_does_not_hide_it(tmp_path, monkeypatch):
    from linescribe.modelfile import resolve_model_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()
    assert resolve_model_path(None) == bundled_models()["default"]
    assert resolve_model_path("default") == bundled_models()["default"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.safetensors").write_bytes(b"x")
    assert resolve_model_path("run").resolve() == tmp_path / "run" / "model.safetensors"


def test_model_files_and_the_onnx_backend_need_no_torch():
    """The core install reads models with onnxruntime: opening one must not import torch."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from linescribe.modelfile import open_model, read_model_document\n"
        "model = open_model('default', backend='onnx')\n"
        "assert model.backend == 'onnx' and read_model_document('default')['arch'] == model.arch\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
