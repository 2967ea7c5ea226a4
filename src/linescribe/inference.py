"""``Recognizer``: images in, text out, with the model's own preprocessing.

Lines are read window by window: a pool of threads decodes and preprocesses the next window's
images while the network reads the current one, and each window is read in batches of lines of
similar width (little padding computed), its results put back in the caller's order.

The network runs on one of two backends: ``torch`` (a ``.safetensors`` model, PyTorch) or
``onnx`` (an exported ``.onnx`` model, onnxruntime). Nothing here imports torch until a torch
model is loaded, so an install without torch reads ONNX models.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from linescribe.data.batching import WIDTH_MULTIPLE, pad_lines, width_sorted_batches
from linescribe.data.images import ImageInput, describe, load_gray
from linescribe.decoding import Alternative, Decoder, Hypothesis, build_decoder
from linescribe.errors import ImageError, LinescribeError, ModelFileError
from linescribe.onnxmodel import OnnxNet, available_cores, is_onnx_file, load_onnx_model
from linescribe.trained import TrainedModel

BACKENDS = ("auto", "torch", "onnx")
"""``auto``: onnxruntime for ``.onnx`` files and wherever torch is not installed, else PyTorch."""

MAX_PADDING = 0.25
"""A batch is cut early rather than spend more than this share of its work on padding."""

Forward = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


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


@dataclass(frozen=True)
class _Prepared:
    """One source after decoding and preprocessing: the model input, or why there is none."""

    name: str
    line: np.ndarray | None
    error: str = ""


def _torch_forward(net: Any, device: str) -> tuple[Any, Forward]:
    """The network on ``device`` in eval mode, and a numpy-in, numpy-out forward pass under
    inference mode.

    A network already there is left untouched and one elsewhere is copied there, because
    Recognizers for other options or devices share it: ``Module.to`` moves it in place, and even
    when nothing moves it re-initialises an LSTM's flat weight list, which broke forward passes
    running at that moment in other threads (a server building a Recognizer for a new decoder
    while serving: ``zip() argument 2 is longer than argument 1``)."""
    import torch

    target = torch.device(device)

    def elsewhere(parameter: torch.Tensor) -> bool:  # "cuda" means any GPU: the one it is on is fine
        return parameter.device.type != target.type or target.index not in (None, parameter.device.index)

    if any(elsewhere(parameter) for parameter in net.parameters()):
        net = copy.deepcopy(net).to(target)  # a copy: Module.to moves in place, under the other Recognizers
    if net.training:
        net.eval()

    @torch.inference_mode()
    def forward(images: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_probs, lengths = net(torch.from_numpy(images).to(device), torch.from_numpy(widths).to(device))
        return log_probs.float().cpu().numpy(), lengths.cpu().numpy()

    return net, forward


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
        decode_threads: int | None = None,
    ) -> None:
        """``decoder``: a name from ``linescribe.decoding.DECODERS`` (greedy, beam,
        beam_lm). ``beam_width``, ``lm`` (ARPA file or bundled name, default ``english``),
        ``lm_weight``, ``word_bonus`` and ``lexicon`` go to the decoder (None: its default), which
        refuses the ones it does not take. ``spell``: True or a backend name (``symspell``,
        ``autocorrect``) to correct the spelling of the decoded words. ``decode_threads``: threads
        that decode and preprocess images ahead of the network (default: the cores, at most 4)."""
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
        self.device = device
        self.decode_threads = decode_threads or min(available_cores(), 4)
        if isinstance(model.net, OnnxNet):
            if device != "cpu":
                raise LinescribeError(f"the onnx backend runs on the CPU; device {device!r} needs the torch backend")
            self.backend = "onnx"
            self.net: Any = model.net
            self._forward: Forward = model.net
        else:
            self.backend = "torch"
            self.net, self._forward = _torch_forward(model.net, device)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def window(self) -> int:
        """Lines decoded ahead and sorted by width together: enough for well-filled batches."""
        return max(64, 4 * self.batch_size)

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
        return list(self.predict_iter(sources))

    def predict_iter(self, sources: Iterable[Any], load: Callable[[Any], np.ndarray] = load_gray) -> Iterator[Prediction]:
        """Predictions in the order of ``sources``, as they are read (see ``predict_windows``)."""
        for window in self.predict_windows(sources, load):
            yield from window

    def predict_windows(self, sources: Iterable[Any], load: Callable[[Any], np.ndarray] = load_gray) -> Iterator[list[Prediction]]:
        """The predictions of each successive window of ``sources`` (``window`` of them), in their
        order, as soon as the window is read, so a long job can write them as it goes. ``load``
        turns a source into a grayscale array (default: any ImageInput); a source it cannot
        load gives a Prediction with ``error`` set."""
        sources = iter(sources)
        first = list(islice(sources, self.window))
        if len(first) <= 1:  # one line: no thread hand-over in the way of its latency
            if first:
                yield self._read([self._prepare(first[0], load)])
            return
        pool = ThreadPoolExecutor(self.decode_threads, thread_name_prefix="linescribe-decode")
        try:
            pending: deque[list[Future[_Prepared]]] = deque([[pool.submit(self._prepare, s, load) for s in first]])
            while pending:
                chunk = list(islice(sources, self.window))
                if chunk:  # decoded while the network reads the window before it
                    pending.append([pool.submit(self._prepare, source, load) for source in chunk])
                yield self._read([future.result() for future in pending.popleft()])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _prepare(self, source: Any, load: Callable[[Any], np.ndarray]) -> _Prepared:
        name = describe(source)
        try:
            return _Prepared(name, self.model.preprocessing(load(source)))
        except ImageError as error:
            return _Prepared(name, None, str(error))
        except Exception as error:  # one odd file must not stop a batch job: it is reported instead
            return _Prepared(name, None, f"{name}: cannot read the image ({type(error).__name__}: {error})")

    def _read(self, window: list[_Prepared]) -> list[Prediction]:
        results = [Prediction(item.name, "", 0.0, error=item.error) for item in window]
        readable = [index for index, item in enumerate(window) if item.line is not None]
        widths = [window[index].line.shape[1] for index in readable]
        for batch in width_sorted_batches(widths, self.batch_size, MAX_PADDING):
            indices = [readable[position] for position in batch]
            for index, hypothesis in zip(indices, self.recognize([window[i].line for i in indices])):
                results[index] = Prediction(
                    window[index].name,
                    hypothesis.text,
                    hypothesis.confidence,
                    hypothesis.char_confidences,
                    word_confidences=hypothesis.word_confidences,
                    alternatives=hypothesis.alternatives,
                )
        return results

    def recognize(self, preprocessed: Sequence[np.ndarray]) -> list[Hypothesis]:
        """Already preprocessed lines (H, W) float32 -> hypotheses, in one forward pass."""
        # onnxruntime keeps no per-shape kernel caches, so it is spared the rounding up of widths
        multiple = 1 if self.backend == "onnx" else WIDTH_MULTIPLE
        log_probs, lengths = self._forward(*pad_lines(preprocessed, multiple))
        return self.decoder(log_probs, lengths, self.model.alphabet)


def torch_installed() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def load_trained_model(path_or_name: str | Path | None = None, backend: str = "auto", threads: int | None = None) -> TrainedModel:
    """The model in a ``.safetensors`` or ``.onnx`` file (or a bundled model, or the default
    model), with its network on ``backend`` (see BACKENDS).

    ``--backend onnx`` on a ``.safetensors`` model exports it to ONNX in memory first (a few
    seconds, needs torch), except for bundled models, whose export ships beside them.
    ``threads``: the network's CPU threads (torch: process-wide).
    """
    from linescribe.pretrained import onnx_twin, resolve_model_path

    if backend not in BACKENDS:
        raise LinescribeError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    path = resolve_model_path(path_or_name)
    twin = onnx_twin(path) if backend != "torch" else None
    if twin is not None and (backend == "onnx" or not torch_installed()):
        path = twin  # a bundled model's shipped export: no torch needed, nothing to export
    if is_onnx_file(path):
        if backend == "torch":
            raise ModelFileError(f"{path}: an ONNX model runs on the onnx backend, not torch (use --backend onnx or auto)")
        return load_onnx_model(path, threads)
    if not torch_installed():
        raise ModelFileError(
            f"{path}: a .safetensors model needs torch, which is not installed; read an ONNX export of it "
            "instead (`linescribe export MODEL -o model.onnx`, where torch is installed)"
        )
    from linescribe.models.modelfile import load_model_file

    model = load_model_file(path)
    if backend == "onnx":
        from linescribe.export import onnx_bytes

        return load_onnx_model(onnx_bytes(model)[0], threads, origin=str(path))
    if threads:
        import torch

        torch.set_num_threads(threads)
    return model


def load_recognizer(
    path_or_name: str | Path | None = None, backend: str = "auto", threads: int | None = None, **options: Any
) -> Recognizer:
    """A Recognizer for a model file path, a bundled model's name, or the default model."""
    return Recognizer(load_trained_model(path_or_name, backend, threads), **options)
