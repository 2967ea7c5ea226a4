"""Options that several verbs share (the model, its backend, batch size, decoding), declared once
with their defaults taken from the code that uses them, so that ``predict``, ``eval`` and
``serve`` cannot drift apart; and what turns them into objects (the model argument, the
DecodingOptions, the Recognizer)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from linescribe.decoding import DECODERS, BeamDecoder, DecodingOptions, OptionNotTaken
from linescribe.decoding.spell import DEFAULT_SPELLER, SPELLERS
from linescribe.inference import DEFAULT_BATCH_SIZE
from linescribe.modelfile import BACKENDS
from linescribe.modelfile.names import names_a_model

if TYPE_CHECKING:
    from linescribe.inference import Recognizer

Decorator = Callable[[Callable], Callable]
DEFAULT_BEAM_WIDTH = inspect.signature(BeamDecoder.__init__).parameters["beam_width"].default


class FiniteFloat(click.ParamType):
    """A float that is a number: ``nan`` and ``inf`` parse as floats but make no sense as weights
    or sizes (and click's FloatRange lets ``nan`` through: it fails no comparison)."""

    name = "float"

    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        if self.minimum is not None and number < self.minimum:
            self.fail(f"{value!r} is below {self.minimum:g}.", param, ctx)
        if self.maximum is not None and number > self.maximum:
            self.fail(f"{value!r} is above {self.maximum:g}.", param, ctx)
        return number


def _stacked(options: list[Decorator]) -> Decorator:
    def apply(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


model_option = click.option(
    "-m", "--model", help="Model file (.safetensors or .onnx), run folder or bundled model name (default: the bundled default model)."
)

backend_option = click.option(
    "--backend", type=click.Choice(BACKENDS), default=BACKENDS[0], show_default=True,
    help="onnx (onnxruntime; a .safetensors model is exported once and cached), torch (PyTorch) or auto: onnx, "
    "and torch for a model whose export fails its check.",
)


def batch_size_option(help: str = "Lines per forward pass.") -> Decorator:
    return click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE, show_default=True, help=help)


reading_options = _stacked([
    backend_option,
    click.option("--threads", type=click.IntRange(min=0), default=0,
                 help="CPU threads of the network (0: every core for onnx, 1 for torch)."),
])
"""``--backend`` and ``--threads`` of the verbs that read in one process (``predict``, ``eval``)."""

decoding_options = _stacked([
    click.option("--decoder", type=click.Choice(list(DECODERS)), default=DecodingOptions.decoder, show_default=True,
                 help="greedy: best class per frame; beam: CTC prefix beam search; beam_lm: beam search with a word n-gram LM."),
    click.option("--beam-width", type=click.IntRange(min=1),
                 help=f"Beams kept per frame (beam decoders; default {DEFAULT_BEAM_WIDTH})."),
    click.option("--lm", help="Word n-gram LM: an ARPA file (.arpa/.arpa.gz) or a bundled name: english (default) or french."),
    click.option("--lm-weight", type=FiniteFloat(minimum=0),
                 help="Weight of the LM log-probability (alpha; default: tuned for the bundled LM, 0.3 english, 0.2 french; "
                 "0.3 for your own)."),
    click.option("--word-bonus", type=FiniteFloat(), help="Score added per word (beta; default 2.0): higher favours more, shorter words."),
    click.option("--lexicon", type=click.Path(exists=True, dir_okay=False),
                 help="Word list (one per line): words outside it are <unk> for beam_lm."),
    click.option("--spell", is_flag=True,
                 help="Correct the spelling of decoded words (numbers, punctuation, capitals and known words are kept)."),
    click.option("--speller", type=click.Choice(list(SPELLERS)), default=DEFAULT_SPELLER, show_default=True,
                 help="Spelling corrector used by --spell: symspell (English), symspell-fr (French), autocorrect (English)."),
])
"""The decoder flags of ``predict``, ``eval`` and ``serve``; ``chosen_decoding`` makes them one DecodingOptions."""


def chosen_decoding(spell: bool, speller: str, serving: bool = False, **given: Any) -> DecodingOptions:
    """The decoding the flags of ``decoding_options`` choose (``--speller`` counts with
    ``--spell`` only, and alone is refused, except when ``serving``, where it is the corrector
    of the requests that ask for spelling); a flag the decoder cannot use is a usage error
    naming the flags."""
    context = click.get_current_context(silent=True)
    typed = context is not None and context.get_parameter_source("speller") not in (None, click.core.ParameterSource.DEFAULT)
    if typed and not spell and not serving:
        raise click.UsageError(f"--speller {speller} chooses the corrector of --spell: give --spell too")
    try:
        return DecodingOptions(speller=speller if spell else None, **given)
    except OptionNotTaken as error:
        raise click.UsageError(error.describe(lambda name: "--" + name.replace("_", "-"))) from None


def split_model_argument(items: tuple[str, ...], model: str | None, what: str) -> tuple[str | None, list[str]]:
    """``[MODEL] ITEMS...`` of ``predict`` and ``eval``: the model given by ``--model``, or the
    first argument when it names a model and something follows it, or None (the default
    model); and the remaining arguments (``what`` names them in the error when none remain)."""
    rest = list(items)
    if model is None and rest and names_a_model(rest[0]):
        if len(rest) == 1:
            raise click.UsageError(f"{rest[0]} is a model: give the {what} to read after it")
        model = rest.pop(0)
    return model, rest


def load_reader(model: str | None, backend: str, threads: int, **options: Any) -> Recognizer:
    """``load_recognizer`` for a command: PyTorch on TORCH_INFERENCE_THREADS unless ``--threads``
    says otherwise, since no caller's torch settings share the process."""
    from linescribe.inference import load_recognizer, set_torch_threads_for_reading

    recognizer = load_recognizer(model, backend, threads or None, **options)
    if recognizer.backend == "torch" and not threads:
        set_torch_threads_for_reading()
    return recognizer
