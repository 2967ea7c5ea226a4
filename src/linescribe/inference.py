"""``Recognizer``: images in, text out, with the model's own preprocessing.

Lines are sorted by width and batched so that little padding is computed, then the results are
put back in the caller's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from linescribe.data.batching import pad_batch, width_sorted_batches
from linescribe.data.images import ImageInput, describe, load_gray
from linescribe.decoding import Alternative, Decoder, Hypothesis, build_decoder
from linescribe.errors import ImageError
from linescribe.models.modelfile import TrainedModel, load_model_file


@dataclass(frozen=True)
class Prediction:
    """The text of one line image; ``error`` is set (and text empty) when the image was unreadable."""

    source: str
    text: str
    confidence: float
    char_confidences: tuple[float, ...] = field(default=())
    error: str = ""
    word_confidences: tuple[tuple[str, float], ...] = field(default=())
    alternatives: tuple[Alternative, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.error


class Recognizer:
    """A loaded model ready to read lines: ``Recognizer(model).predict(images)``."""

    def __init__(
        self,
        model: TrainedModel,
        decoder: str = "greedy",
        batch_size: int = 16,
        device: str = "cpu",
        beam_width: int | None = None,
        lm: str | Path | None = None,
        lm_weight: float | None = None,
        word_bonus: float | None = None,
        lexicon: str | Path | None = None,
        spell: bool | str = False,
    ) -> None:
        """``decoder``: a name from ``linescribe.decoding.DECODERS`` (greedy, beam, beam_lm,
        word_beam). ``beam_width``, ``lm`` (ARPA file or bundled name, default ``english``),
        ``lm_weight``, ``word_bonus`` and ``lexicon`` go to the decoder (None: its default), which
        refuses the ones it does not take. ``spell``: True or a backend name (``symspell``,
        ``autocorrect``) to correct the spelling of the decoded words."""
        self.model = model
        options = {"beam_width": beam_width, "lm": lm, "lm_weight": lm_weight, "word_bonus": word_bonus, "lexicon": lexicon}
        self.decoder: Decoder = build_decoder(decoder, **{k: v for k, v in options.items() if v is not None})
        self.decoder_name = decoder
        if spell:
            from linescribe.decoding.spell import (
                DEFAULT_SPELLER,
                SpellCorrected,
                Speller,
            )

            backend = DEFAULT_SPELLER if spell is True else str(spell)
            self.decoder = SpellCorrected(self.decoder, Speller(backend, alphabet=model.alphabet))
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.net = model.net.to(self.device).eval()

    @property
    def name(self) -> str:
        return self.model.name

    def predict(self, images: ImageInput | Sequence[ImageInput]) -> Prediction | list[Prediction]:
        """One image (path, bytes, PIL image or array) -> one Prediction; a list -> a list.

        An unreadable image in a list gives a Prediction with ``error`` set; the others are read.
        A single unreadable image raises ImageError.
        """
        single = isinstance(images, (str, Path, bytes, Image.Image, np.ndarray))
        sources = [images] if single else list(images)
        predictions = self.predict_many(sources)
        if single:
            if predictions[0].error:
                raise ImageError(predictions[0].error)
            return predictions[0]
        return predictions

    def predict_many(self, sources: Iterable[ImageInput]) -> list[Prediction]:
        sources = list(sources)
        names = [describe(source) for source in sources]
        inputs: dict[int, np.ndarray] = {}
        results: dict[int, Prediction] = {}
        for index, source in enumerate(sources):
            try:
                inputs[index] = self.model.preprocessing(load_gray(source))
            except ImageError as error:
                results[index] = Prediction(names[index], "", 0.0, error=str(error))
        readable = list(inputs)
        for batch in width_sorted_batches([inputs[i].shape[1] for i in readable], self.batch_size):
            indices = [readable[position] for position in batch]
            for index, hypothesis in zip(indices, self.recognize([inputs[i] for i in indices])):
                results[index] = Prediction(
                    names[index],
                    hypothesis.text,
                    hypothesis.confidence,
                    hypothesis.char_confidences,
                    word_confidences=hypothesis.word_confidences,
                    alternatives=hypothesis.alternatives,
                )
        return [results[index] for index in range(len(sources))]

    @torch.inference_mode()
    def recognize(self, preprocessed: Sequence[np.ndarray]) -> list[Hypothesis]:
        """Already preprocessed lines (H, W) float32 -> hypotheses, in one forward pass."""
        images, widths = pad_batch(preprocessed)
        log_probs, lengths = self.net(images.to(self.device), widths.to(self.device))
        return self.decoder(log_probs.cpu(), lengths.cpu(), self.model.alphabet)


def load_recognizer(path_or_name: str | Path | None = None, **options) -> Recognizer:
    """A Recognizer for a model file path, a bundled model's name, or the default model."""
    from linescribe.pretrained import resolve_model_path

    return Recognizer(load_model_file(resolve_model_path(path_or_name)), **options)
