"""Turning the network's per-frame class probabilities into text.

A decoder is a callable ``decoder(log_probs (T,N,C), lengths (N,), alphabet) -> list[Hypothesis]``.
``DECODERS`` maps each name to its class; ``build_decoder(name, **options)`` makes one:

    greedy     best class per frame, repeats merged, blanks dropped (the default; no options)
    beam       CTC prefix beam search: beam_width, n_best
    beam_lm    beam search with a word n-gram LM: + lm, lm_weight, word_bonus, lexicon
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from linescribe.alphabet import Alphabet
from linescribe.decoding.beam import BeamDecoder, LMBeamDecoder
from linescribe.decoding.greedy import greedy_decode
from linescribe.decoding.hypothesis import Alternative, Hypothesis
from linescribe.errors import LinescribeError

Decoder = Callable[[Any, Any, Alphabet], list[Hypothesis]]
"""``decoder(log_probs (T,N,C), lengths (N,), alphabet)``, the arrays as numpy or torch tensors."""


class GreedyDecoder:
    """Best-path decoding (``greedy_decode``) as a decoder object."""

    def __call__(self, log_probs: Any, lengths: Any, alphabet: Alphabet) -> list[Hypothesis]:
        return greedy_decode(log_probs, lengths, alphabet)


DECODERS: dict[str, type] = {
    "greedy": GreedyDecoder,
    "beam": BeamDecoder,
    "beam_lm": LMBeamDecoder,
}


def decoder_options(name: str) -> list[str]:
    """The keyword options that decoder ``name`` accepts."""
    return [p for p in inspect.signature(DECODERS[name].__init__).parameters if p != "self"]


def build_decoder(name: str, **options) -> Decoder:
    """A decoder by name; options that the decoder does not take are refused by name."""
    if name not in DECODERS:
        raise LinescribeError(f"unknown decoder {name!r}; known: {', '.join(DECODERS)}")
    accepted = decoder_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = ", ".join(accepted) or "none"
        raise LinescribeError(f"decoder {name!r} does not take {', '.join(unknown)} (its options: {allowed})")
    return DECODERS[name](**options)


__all__ = [
    "DECODERS",
    "Alternative",
    "BeamDecoder",
    "Decoder",
    "GreedyDecoder",
    "Hypothesis",
    "LMBeamDecoder",
    "build_decoder",
    "decoder_options",
    "greedy_decode",
]
