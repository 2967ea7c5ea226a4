"""The decoders by name, and the one check of which options a decoder takes.

Each decoder class's keyword arguments are its options (``decoder_options``), so a new decoder or
option needs no list updated anywhere: the command line's ``--decoder`` choices, the web form's and
the checks all read ``DECODERS``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from linescribe.alphabet import Alphabet
from linescribe.decoding.beam import BeamDecoder, LMBeamDecoder
from linescribe.decoding.greedy import greedy_decode
from linescribe.decoding.hypothesis import Hypothesis
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
    parameters = inspect.signature(DECODERS[name].__init__).parameters.values()
    return [p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


class OptionNotTaken(LinescribeError):
    """An option that other decoders take given to one that does not. Each interface words it
    with its own names for the option and the decoder (``describe``): ``--lm-weight needs
    --decoder beam_lm`` on the command line, ``lm_weight needs decoder beam_lm`` in the API."""

    def __init__(self, option: str, decoder: str, takers: list[str]) -> None:
        self.option = option
        self.decoder = decoder
        self.takers = takers
        super().__init__(self.describe(str))

    def describe(self, spell_name: Callable[[str], str]) -> str:
        """The message with ``spell_name`` applied to the option's name and to ``decoder``."""
        decoder = spell_name("decoder")
        return f"{spell_name(self.option)} needs {decoder} {' or '.join(self.takers)} (got {decoder} {self.decoder})"


def check_decoder(name: str, options: Iterable[str]) -> None:
    """Raise LinescribeError for an unknown decoder or an option it does not take (OptionNotTaken
    when another decoder takes it)."""
    if name not in DECODERS:
        raise LinescribeError(f"unknown decoder {name!r}; known: {', '.join(DECODERS)}")
    accepted = decoder_options(name)
    for option in sorted(set(options) - set(accepted)):
        takers = [other for other in DECODERS if option in decoder_options(other)]
        if takers:
            raise OptionNotTaken(option, name, takers)
        raise LinescribeError(f"decoder {name!r} does not take {option} (its options: {', '.join(accepted) or 'none'})")


def build_decoder(name: str, **options: Any) -> Decoder:
    """A decoder by name; options that the decoder does not take are refused by name."""
    check_decoder(name, options)
    return DECODERS[name](**options)
