"""Turning the network's per-frame class probabilities into text.

A decoder is a callable ``decoder(log_probs (T,N,C), lengths (N,), alphabet) -> list[Hypothesis]``.
``DECODERS`` maps each name to its class; ``build_decoder(name, **options)`` makes one:

    greedy     best class per frame, repeats merged, blanks dropped (the default; no options)
    beam       CTC prefix beam search: beam_width, n_best (alternatives kept), char_min_logp
    beam_lm    beam search with a word n-gram LM: + lm, lm_weight, word_bonus, lexicon,
               oov_penalty, oov_word_penalty

``DecodingOptions`` is how the command line, the Python API and the web service choose one (with
spelling correction, ``spell.py``): checked once when made, built with ``.build(alphabet)``.
"""

from __future__ import annotations

from linescribe.decoding.beam import BeamDecoder, LMBeamDecoder
from linescribe.decoding.greedy import greedy_decode
from linescribe.decoding.hypothesis import Alternative, Hypothesis
from linescribe.decoding.options import DecodingOptions
from linescribe.decoding.registry import (
    DECODERS,
    Decoder,
    GreedyDecoder,
    OptionNotTaken,
    build_decoder,
    decoder_options,
)

__all__ = [
    "DECODERS",
    "Alternative",
    "BeamDecoder",
    "Decoder",
    "DecodingOptions",
    "GreedyDecoder",
    "Hypothesis",
    "LMBeamDecoder",
    "OptionNotTaken",
    "build_decoder",
    "decoder_options",
    "greedy_decode",
]
