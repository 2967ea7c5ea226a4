"""DecodingOptions: the one check of a decoding (decoder, its options, speller), worded by each
interface its own way, and the one form the command line, the Python API and the server build."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import linescribe
from linescribe.alphabet import Alphabet
from linescribe.decoding import DECODERS, BeamDecoder, DecodingOptions, OptionNotTaken
from linescribe.decoding.spell import SpellCorrected
from linescribe.errors import LinescribeError


def test_an_option_the_decoder_does_not_take_names_the_decoders_that_do():
    with pytest.raises(OptionNotTaken) as refused:
        DecodingOptions("greedy", beam_width=4)
    assert str(refused.value) == "beam_width needs decoder beam or beam_lm (got decoder greedy)"
    flags = refused.value.describe(lambda name: "--" + name.replace("_", "-"))
    assert flags == "--beam-width needs --decoder beam or beam_lm (got --decoder greedy)"
    with pytest.raises(OptionNotTaken, match="^lexicon needs decoder beam_lm \\(got decoder beam\\)$"):
        DecodingOptions("beam", lexicon="words.txt")


def test_unknown_decoders_and_spellers_are_refused_by_name():
    with pytest.raises(LinescribeError, match="unknown decoder 'beem'; known: greedy, beam, beam_lm"):
        DecodingOptions("beem")
    with pytest.raises(LinescribeError, match="unknown speller 'aspell'; known: symspell"):
        DecodingOptions(speller="aspell")


def test_options_are_frozen_hashable_values():
    options = DecodingOptions("beam", beam_width=4)
    assert options == DecodingOptions("beam", beam_width=4) and len({options, DecodingOptions("beam", beam_width=4)}) == 1
    assert options != DecodingOptions("beam", beam_width=4, speller="symspell")
    with pytest.raises(AttributeError):
        options.beam_width = 8  # type: ignore[misc]


def test_another_decoder_keeps_only_the_options_it_takes():
    lm = DecodingOptions("beam_lm", beam_width=4, lm_weight=0.5, speller="symspell")
    assert lm.with_decoder("beam") == DecodingOptions("beam", beam_width=4, speller="symspell")
    assert lm.with_decoder("greedy") == DecodingOptions(speller="symspell")
    assert lm.decoder_keywords == {"beam_width": 4, "lm_weight": 0.5}


def test_build_gives_the_decoder_with_its_options_and_the_speller_around_it():
    alphabet = Alphabet("abc ")
    beam = DecodingOptions("beam", beam_width=3).build(alphabet)
    assert isinstance(beam, BeamDecoder) and beam.beam_width == 3
    spelled = DecodingOptions("beam", beam_width=3, speller="symspell").build(alphabet)
    assert isinstance(spelled, SpellCorrected) and spelled.speller.alphabet is alphabet
    assert isinstance(spelled.decoder, BeamDecoder) and spelled.speller.backend == "symspell"


def test_load_model_keeps_its_keywords_and_makes_options_of_them_first(monkeypatch):
    """``spell=True`` or a speller's name, as README documents; refused before any model loads."""
    calls = []
    monkeypatch.setattr("linescribe.inference.load_recognizer", lambda *args: calls.append(args))
    linescribe.load_model(decoder="beam_lm", lm="french", spell=True)
    linescribe.load_model("model.onnx", spell="symspell-fr", batch_size=4)
    linescribe.load_model()
    assert [call[3] for call in calls] == [
        DecodingOptions("beam_lm", lm="french", speller="symspell"),
        DecodingOptions(speller="symspell-fr"),
        DecodingOptions(),
    ]
    assert calls[1][0] == "model.onnx" and calls[1][4] == 4
    with pytest.raises(OptionNotTaken, match="lm_weight needs decoder beam_lm"):
        linescribe.load_model(lm_weight=0.3)
    assert len(calls) == 3


def test_the_decoder_choices_of_the_command_line_are_the_registry():
    from linescribe.cli import main

    for verb in ("predict", "eval", "serve"):
        (option,) = [param for param in main.commands[verb].params if param.name == "decoder"]
        assert list(option.type.choices) == list(DECODERS)
    refused = CliRunner().invoke(main, ["predict", "--decoder", "beam", "--lexicon", __file__, "x.png"])
    assert refused.exit_code == 2 and "--lexicon needs --decoder beam_lm (got --decoder beam)" in refused.output


def test_a_decoder_without_options_says_so():
    from linescribe.decoding import decoder_options

    assert decoder_options("greedy") == []
