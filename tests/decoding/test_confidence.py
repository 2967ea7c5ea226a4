"""Confidences and decoder options end to end, on the tiny trained model (``overfit_model``)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from generated import OVERFIT_TEXTS, render_line
from PIL import ImageFilter

import linescribe
from linescribe.cli.eval import evaluate
from linescribe.cli.predict import predict
from linescribe.lm import build_lm


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    model, _ = build_lm(OVERFIT_TEXTS * 3, order=2)
    path = tmp_path_factory.mktemp("lm") / "tiny.arpa"
    model.write_arpa(path)
    return path


@pytest.mark.parametrize("decoder", ["greedy", "beam", "beam_lm"])
def test_confidences_lie_in_0_1_and_drop_on_a_blurred_copy(overfit_model, tiny_lm, decoder):
    options = {"lm": str(tiny_lm)} if decoder == "beam_lm" else {}
    recognizer = linescribe.load_model(overfit_model, decoder=decoder, **options)
    for text in OVERFIT_TEXTS[:3]:
        sharp = render_line(text)
        blurred = sharp.filter(ImageFilter.GaussianBlur(radius=3))
        clear, smudged = recognizer.predict([sharp, blurred])
        assert clear.text == text
        for prediction in (clear, smudged):
            assert 0.0 <= prediction.confidence <= 1.0
            assert len(prediction.char_confidences) == len(prediction.text)
            assert all(0.0 <= c <= 1.0 for c in prediction.char_confidences)
            assert all(0.0 <= c <= 1.0 for _, c in prediction.word_confidences)
        assert [word for word, _ in clear.word_confidences] == text.split()
        assert smudged.confidence < clear.confidence
        assert min(c for _, c in smudged.word_confidences or [("", 0.0)]) < min(c for _, c in clear.word_confidences)
        if decoder != "greedy":
            assert clear.alternatives[0].text == clear.text
            assert all(0.0 <= a.probability <= 1.0 for a in clear.alternatives)


def test_predict_json_has_char_word_confidences_and_nbest(overfit_model, overfit_lines):
    image = min(overfit_lines.glob("*.png"))
    result = CliRunner().invoke(predict, [str(overfit_model), str(image), "-f", "json", "--decoder", "beam", "--beam-width", "4"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.output)
    assert len(record["char_confidences"]) == len(record["text"])
    assert [w["text"] for w in record["words"]] == record["text"].split()
    assert record["alternatives"][0]["text"] == record["text"] and len(record["alternatives"]) <= 5
    plain = json.loads(CliRunner().invoke(predict, [str(overfit_model), str(image), "-f", "json"]).output)[0]
    assert "alternatives" not in plain and plain["words"]


def test_decoder_flags_are_checked_and_reach_eval(overfit_model, overfit_lines, tiny_lm):
    wrong = CliRunner().invoke(predict, [str(overfit_model), str(overfit_lines), "--lm-weight", "0.3"])
    assert wrong.exit_code != 0 and "--lm-weight needs --decoder beam_lm (got --decoder greedy)" in wrong.output
    result = CliRunner().invoke(evaluate, [str(overfit_model), str(overfit_lines), "--json", "--decoder", "beam_lm",
                                           "--lm", str(tiny_lm), "--lm-weight", "0.3", "--word-bonus", "0.5", "--spell"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["decoder"] == "beam_lm" and document["cer"] == 0.0
