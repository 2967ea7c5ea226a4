"""``DecodingOptions``: how frame probabilities become text, as the command line, the Python API
and the web service all give it: a decoder, its options, and spelling correction or none.

The options are checked once, when they are made (``validate``), so each interface only words
the error its own way (a flag on the command line, a 400 on the web); they are frozen and
hashable, so a server keys its Recognizers by them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from linescribe.alphabet import Alphabet
from linescribe.decoding.registry import DECODERS, Decoder, build_decoder, check_decoder, decoder_options
from linescribe.decoding.spell import SpellCorrected, Speller, check_speller
from linescribe.errors import LinescribeError


@dataclass(frozen=True)
class DecodingOptions:
    """A decoder from ``DECODERS`` and its options; None leaves an option to the decoder's default.

    ``lm``: an ARPA file or a bundled LM's name (beam_lm; default ``english``); ``lexicon``: a
    word list (beam_lm); ``n_best``, ``char_min_logp``, ``oov_penalty`` and ``oov_word_penalty``:
    see ``BeamDecoder`` and ``LMBeamDecoder`` (every option a decoder takes is a field here, so
    the Python API reaches them all). ``speller``: a name from ``SPELLERS`` to correct the decoded words'
    spelling, or None for no correction. Values are checked by the decoder when it is built (a
    beam width of 0 is refused there).
    """

    decoder: str = "greedy"
    beam_width: int | None = None
    lm: str | Path | None = None
    lm_weight: float | None = None
    word_bonus: float | None = None
    lexicon: str | Path | None = None
    n_best: int | None = None
    char_min_logp: float | None = None
    oov_penalty: float | None = None
    oov_word_penalty: float | None = None
    speller: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def of(cls, decoder: str = "greedy", speller: str | None = None, **options: Any) -> DecodingOptions:
        """DecodingOptions from keyword arguments a caller typed (``load_model``'s): a name that is
        no option of any decoder is a LinescribeError listing the options, not a TypeError."""
        unknown = sorted(set(options) - set(DECODER_KEYWORDS))
        if unknown:
            raise LinescribeError(f"unknown decoding option {', '.join(unknown)} (the options: {', '.join(DECODER_KEYWORDS)})")
        return cls(decoder, speller=speller, **options)

    def validate(self) -> None:
        """Raise LinescribeError for an unknown decoder or speller, or an option the decoder does
        not take (``OptionNotTaken``, naming the decoders that take it)."""
        check_decoder(self.decoder, self.decoder_keywords)
        if self.speller is not None:
            check_speller(self.speller)

    @property
    def decoder_keywords(self) -> dict[str, Any]:
        """The decoder's keyword arguments: the options set, in field order."""
        return {name: getattr(self, name) for name in DECODER_KEYWORDS if getattr(self, name) is not None}

    def with_decoder(self, decoder: str, **fill: Any) -> DecodingOptions:
        """These options for another decoder, without those it does not take, and with the options
        in ``fill`` that it takes (a server's defaults and options under the decoder a request chose)."""
        accepted = decoder_options(decoder) if decoder in DECODERS else []  # an unknown one is refused by name
        changes: dict[str, Any] = {name: None for name in DECODER_KEYWORDS if name not in accepted}
        changes.update((name, value) for name, value in fill.items() if name in accepted)
        return replace(self, decoder=decoder, **changes)

    def build(self, alphabet: Alphabet) -> Decoder:
        """The decoder, followed by the speller when there is one (loading an LM or a spelling
        dictionary can take seconds)."""
        decoder = build_decoder(self.decoder, **self.decoder_keywords)
        if self.speller is None:
            return decoder
        return SpellCorrected(decoder, Speller(self.speller, alphabet=alphabet))


DECODER_KEYWORDS = tuple(field.name for field in fields(DecodingOptions) if field.name not in ("decoder", "speller"))
"""The fields that go to the decoder as keyword arguments, each taken by some decoders only."""
