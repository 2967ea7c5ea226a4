"""Options that several verbs share are declared once: the same choices, defaults and checks."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from linescribe.cli import main
from linescribe.decoding import DECODERS, DecodingOptions, LMBeamDecoder
from linescribe.errors import LinescribeError
from linescribe.inference import DEFAULT_BATCH_SIZE
from linescribe.modelfile import BACKENDS

READING_VERBS = ("predict", "eval", "serve")
SHARED = ("model", "backend", "batch_size", "decoder", "beam_width", "lm", "lm_weight", "word_bonus", "lexicon", "spell", "speller")


def _params(verb: str) -> dict[str, click.Parameter]:
    return {param.name: param for param in main.commands[verb].params}


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_option_is_the_same_in_every_reading_verb(name):
    first, *others = (_params(verb)[name] for verb in READING_VERBS)
    for other in others:
        assert (other.opts, other.default, repr(other.type)) == (first.opts, first.default, repr(first.type))


def test_shared_defaults_and_choices_come_from_the_code_that_uses_them():
    params = _params("predict")
    assert params["backend"].type.choices == BACKENDS
    assert list(params["decoder"].type.choices) == list(DECODERS)
    assert params["decoder"].default == DecodingOptions().decoder
    assert params["batch_size"].default == DEFAULT_BATCH_SIZE


@pytest.mark.parametrize("verb", READING_VERBS)
def test_a_batch_size_of_zero_is_refused_by_every_verb(verb, tmp_path):
    result = CliRunner().invoke(main, [verb, *(["x.png"] if verb != "serve" else []), "--batch-size", "0"])
    assert result.exit_code == 2 and "--batch-size" in result.output


@pytest.mark.parametrize("verb", READING_VERBS)
@pytest.mark.parametrize(("flag", "value"), [("--lm-weight", "nan"), ("--word-bonus", "inf"), ("--lm-weight", "-inf")])
def test_a_weight_that_is_not_a_finite_number_is_refused_by_every_verb(verb, flag, value):
    """NaN scores left the order of the beams to chance, and the n-best probabilities read nan."""
    result = CliRunner().invoke(main, [verb, *(["x.png"] if verb != "serve" else []), "--decoder", "beam_lm", flag, value])
    assert result.exit_code == 2 and flag in result.output and "not a finite number" in result.output


def test_the_api_refuses_a_weight_that_is_not_a_finite_number():
    with pytest.raises(LinescribeError, match="lm_weight must be a finite number, got nan"):
        LMBeamDecoder(lm="english", lm_weight=float("nan"))


@pytest.mark.parametrize("verb", READING_VERBS)
def test_a_negative_lm_weight_is_refused_by_every_verb(verb):
    """A negative weight favours the words the LM finds least probable: never what was meant."""
    result = CliRunner().invoke(main, [verb, *(["x.png"] if verb != "serve" else []), "--decoder", "beam_lm", "--lm-weight", "-0.3"])
    assert result.exit_code == 2 and "--lm-weight" in result.output and "below 0" in result.output


def test_the_api_refuses_a_negative_lm_weight():
    with pytest.raises(LinescribeError, match="lm_weight must be 0 or more"):
        LMBeamDecoder(lm="english", lm_weight=-0.3)
