"""One model, loaded once at start-up and shared by every request of the server.

Requests run in parallel on the server's worker threads and call the same network without a
lock. That is safe: the network is in eval mode and runs under ``torch.inference_mode``, so a
forward pass writes no module state; a new Recognizer leaves the shared network alone (moving it,
even to where it already is, re-initialised the LSTM's weight list under running forward passes:
a rare 500 in the soak test until fixed); and the decoders' and speller's only state are memo
caches of pure functions, whose dict reads and writes are atomic under the GIL (a race at worst
computes one value twice). It is also faster than a lock: preprocessing and decoding are Python
and a line's small convolutions leave cores idle. Measured on 2 cores with one torch thread, 64
rendered lines one per call: 4 threads read 194 lines/s unlocked against 116 serialised, 16
threads 142 against 114.

Each set of decoding options gets its own Recognizer, all sharing the one network, built on first
use and kept in a small LRU cache, because building one can take seconds (the spelling
dictionary, an LM's lexicon).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from linescribe.decoding import DecodingOptions
from linescribe.decoding.spell import DEFAULT_SPELLER
from linescribe.errors import LinescribeError
from linescribe.inference import DEFAULT_BATCH_SIZE, Prediction, Recognizer
from linescribe.layout import PageLine
from linescribe.layout.page import read_segmentation
from linescribe.layout.segment import segment_page
from linescribe.modelfile import TrainedModel, open_model
from linescribe.web.errors import RequestError

logger = logging.getLogger(__name__)

LineCheck = Callable[[list[np.ndarray]], None]
"""Called by a layout reader with the line images it is about to read; raises to refuse them."""
LayoutReader = Callable[[Recognizer, list[np.ndarray], LineCheck], list[list[Prediction]] | list[list[PageLine]]]


def read_lines(recognizer: Recognizer, images: list[np.ndarray], check: LineCheck) -> list[list[Prediction]]:
    """``layout=line``: every image is one text line."""
    check(images)
    return [[prediction] for prediction in recognizer.predict_many(images)]


def read_pages(recognizer: Recognizer, images: list[np.ndarray], check: LineCheck) -> list[list[PageLine]]:
    """``layout=page``: every image is a page or paragraph; its lines are found (all pages
    first, so that ``check`` sees every line of the request) and read in reading order."""
    pages = [segment_page(image) for image in images]
    check([line.image for page in pages for line in page.lines])
    return [list(read_segmentation(recognizer, page, "page").lines) for page in pages]


LAYOUTS: dict[str, LayoutReader] = {"line": read_lines, "page": read_pages}
"""How a request's images are read, by its ``layout`` option: name -> reader giving each image's
lines."""

MAX_REQUEST_WORK = 1_000_000
"""Decoding work one request may ask for: the columns of its lines (the images, or the lines
found on its pages) once scaled to
the model's height, times the beam width (1 for greedy). On noise, the worst case, reading costs
about 45 microseconds per column for the network and per column and beam hypothesis for the
beam search (one 1x100 pixel image scales to 4,096 columns and took 11 s with beam_lm at width
64); real lines prune the beam and cost about a tenth of that. So a request holds a worker for at
most about 45 s however small its upload, while 32 lines of 1,000 columns at beam width 16 fit
(a page of lines with beam_lm), as does any greedy request."""

REQUEST_DECODER_OPTIONS = ("beam_width", "lm_weight", "word_bonus")
"""Decoder options a request may set. ``lm`` and ``lexicon`` name files on the server, so only
the server's command line chooses them."""


@dataclass(frozen=True)
class Reading:
    """What one request read: for each image its lines, and the options used (the server's
    files, ``lm`` and ``lexicon``, are not shown)."""

    lines: list[list[Prediction]] | list[list[PageLine]]
    decoding: dict[str, Any] = field(default_factory=dict)


class ModelService:
    """The loaded model and the server's default decoding; ``read`` serves one request."""

    def __init__(
        self,
        model: TrainedModel,
        defaults: DecodingOptions | None = None,
        speller: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        cache_size: int = 8,
        decoder_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``defaults``: the decoding where a request says nothing (its ``speller`` set: requests
        are spelling-corrected unless they say otherwise). ``speller``: the corrector a request's
        ``spell=true`` turns on (default: the defaults' own, else DEFAULT_SPELLER).
        ``decoder_options``: decoder options (``lm``, ``lexicon``, ``beam_width``, ...) for
        whichever decoder a request chooses that takes them, whatever the default decoder: a
        greedy server's ``decoder=beam_lm`` requests use its French LM."""
        self.model = model
        self.defaults = defaults or DecodingOptions()
        self.speller = speller or self.defaults.speller or DEFAULT_SPELLER
        self.decoder_options = dict(decoder_options or {})
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.unavailable: dict[str, str] = {}
        """What requests cannot have here (``beam_lm``, ``spell``) -> why, found at start-up."""
        self._recognizers: OrderedDict[DecodingOptions, Recognizer] = OrderedDict()
        self._lock = threading.Lock()
        self.recognizer(self.decoding({}))
        self._preload()

    def _preload(self) -> None:
        """Load now, not on the first request that asks for them, what requests may choose: the
        beam_lm decoder's LM and the spelling dictionary (seconds each; the first beam_lm request
        took 5.2 s before, 0.2 s after). Both stay in process-wide caches. One that cannot load
        (a missing optional package, a bad LM file) is left out of the page, and requests that
        ask for it get a 503 that says why."""
        for feature, label, requested in (
            ("beam_lm", "language model", {"decoder": "beam_lm"}),
            ("spell", "spelling dictionary", {"spell": True}),
        ):
            start = time.perf_counter()
            try:
                self.recognizer(self.decoding(requested))
            except (LinescribeError, ImportError) as error:
                # the reason (a file's path, a parser's detail) goes to the log, not to every client
                self.unavailable[feature] = f"the {label} failed to load when the server started (its log says why)"
                logger.warning("linescribe: warning: cannot load the %s (%s); requests that ask for it will get a 503", label, error)
                continue
            logger.info("linescribe: loaded the %s for requests that ask for it (%.1f s)", label, time.perf_counter() - start)

    @classmethod
    def load(
        cls, path_or_name: str | Path | None = None, backend: str = "auto", threads: int = 1, **options: Any
    ) -> ModelService:
        """A service for a model file, a bundled model's name, or (None) the default model, on
        ``backend`` (auto, torch or onnx; see ``modelfile.BACKENDS``) with ``threads`` threads per forward pass."""

        return cls(open_model(path_or_name, backend=backend, threads=threads), **options)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def alphabet_size(self) -> int:
        return len(self.model.alphabet)

    def decoding(self, requested: Mapping[str, Any]) -> DecodingOptions:
        """The decoding for a request: its ``decoder``, ``spell`` and REQUEST_DECODER_OPTIONS over
        the server's defaults. The defaults apply only where the chosen decoder takes them; a
        requested option that it does not take is a RequestError 400."""
        decoder = requested.get("decoder") or self.defaults.decoder
        spell = requested.get("spell", self.defaults.speller is not None)
        asked = {name: requested[name] for name in REQUEST_DECODER_OPTIONS if requested.get(name) is not None}
        try:
            options = self.defaults.with_decoder(decoder, **self.decoder_options)
            return replace(options, speller=self.speller if spell else None, **asked)
        except LinescribeError as error:
            raise RequestError(400, str(error)) from None

    def recognizer(self, decoding: DecodingOptions) -> Recognizer:
        """The Recognizer for these options, from the cache or built (outside the lock, so a
        slow build never holds up requests whose Recognizer is ready)."""
        with self._lock:
            if decoding in self._recognizers:
                self._recognizers.move_to_end(decoding)
                return self._recognizers[decoding]
        built = Recognizer(self.model, decoding, self.batch_size)
        with self._lock:
            recognizer = self._recognizers.setdefault(decoding, built)
            self._recognizers.move_to_end(decoding)
            while len(self._recognizers) > self.cache_size:
                self._recognizers.popitem(last=False)
        return recognizer

    def _check_work(self, images: list[np.ndarray], recognizer: Recognizer) -> None:
        """RequestError 413 when the lines would cost more than MAX_REQUEST_WORK to read."""
        decoder = getattr(recognizer.decoder, "decoder", recognizer.decoder)  # under a SpellCorrected
        beam = getattr(decoder, "beam_width", 1)
        columns = sum(self.model.preprocessing.widest_output(image.shape[1], image.shape[0]) for image in images)
        if columns * beam > MAX_REQUEST_WORK:
            raise RequestError(
                413,
                f"too much to read in one request: {len(images)} lines of {columns:,} columns in all at the model's "
                f"height, times beam width {beam}, is over {MAX_REQUEST_WORK:,}; send fewer or narrower lines "
                "(very flat images scale up to very long lines) or a smaller beam_width",
            )

    def read(self, images: list[np.ndarray], requested: Mapping[str, Any]) -> Reading:
        """Read grayscale images (H, W) uint8 with the request's options (see ``decoding``);
        ``layout``, a LAYOUTS name (default ``line``), picks the reader."""
        layout = requested.get("layout") or "line"
        decoding = self.decoding(requested)
        for feature, wanted in (("beam_lm", decoding.decoder == "beam_lm"), ("spell", decoding.speller is not None)):
            if wanted and feature in self.unavailable:
                raise RequestError(503, f"this server cannot read with {feature}: {self.unavailable[feature]}")
        recognizer = self.recognizer(decoding)
        lines = LAYOUTS[layout](recognizer, images, lambda line_images: self._check_work(line_images, recognizer))
        shown = {name: getattr(decoding, name) for name in REQUEST_DECODER_OPTIONS if getattr(decoding, name) is not None}
        return Reading(lines, {"decoder": decoding.decoder, **shown, "spell": decoding.speller is not None, "layout": layout})
