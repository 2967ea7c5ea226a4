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
import numbers
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from linescribe.data.batching import WIDTH_MULTIPLE, pad_lines, width_sorted_batches
from linescribe.data.images import ImageInput, describe, load_gray
from linescribe.data.preprocess import is_blank
from linescribe.decoding import Alternative, Decoder, DecodingOptions, Hypothesis
from linescribe.errors import ImageError, LinescribeError
from linescribe.modelfile import TrainedModel, open_model
from linescribe.modelfile.onnx_runtime import available_cores

if TYPE_CHECKING:
    from linescribe.layout import PageResult, SegmentOptions

DEFAULT_BATCH_SIZE = 16
"""Lines per forward pass: on 2 CPU cores batches of 16-32 read 3-4x faster than lines one by one
(``benchmarks/infer_speed.py``), and the padding of wider batches starts to cost."""

TORCH_INFERENCE_THREADS = 1
"""PyTorch's default CPU threads for reading lines. More threads spin-wait for each other, and
beside other work on the cores a line took 3x longer with 2 threads than with 1 (10 s instead of
0.05 s on a heavily loaded machine); ``--threads`` gives more on a quiet machine."""

MAX_PADDING = 0.25
"""A batch is cut early rather than spend more than this share of its work on padding."""

STRIDE_PROBE_WIDTH = 1024
"""Columns of the blank line whose output frames give a model's horizontal stride."""

Forward = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

_STRIDES: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
"""Each network's measured horizontal stride, shared by the Recognizers built on it (a server
builds one per decoder), kept as long as the network lives."""
_STRIDES_LOCK = threading.Lock()


@dataclass(frozen=True)
class Prediction:
    """The text of one line image; ``error`` is set (and text empty) when the image was unreadable.

    ``char_positions[i]`` is where ``text[i]`` is: ``(start, end)``, the pixel columns
    ``start <= x < end`` of the image as given, from the first frame the network wrote it on to
    where the next character begins (``pixel_ranges``). Empty when the text could not be aligned
    to the network's output.
    """

    source: str
    text: str
    confidence: float
    char_confidences: tuple[float, ...] = field(default=())
    error: str = ""
    word_confidences: tuple[tuple[str, float], ...] = field(default=())
    alternatives: tuple[Alternative, ...] = field(default=())
    char_positions: tuple[tuple[int, int], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        """The reading as JSON data, the one form of a line in every JSON output (the API's
        ``Line`` schema, ``predict``'s records, page JSON): confidences and scores rounded to 4
        places, pairs as lists."""
        return {
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "char_confidences": [round(value, 4) for value in self.char_confidences],
            "char_positions": [list(position) for position in self.char_positions],
            "words": [{"text": word, "confidence": round(value, 4)} for word, value in self.word_confidences],
            "alternatives": [
                {"text": other.text, "probability": round(other.probability, 4), "score": round(other.score, 4)}
                for other in self.alternatives
            ],
        }


@dataclass(frozen=True)
class _Prepared:
    """One source after decoding and preprocessing: the model input, or why there is none, and
    what maps the input's columns back to the image's (``scale`` input columns per image column)."""

    name: str
    line: np.ndarray | None
    error: str = ""
    width: int = 0
    scale: float = 1.0


def pixel_ranges(frames: Sequence[tuple[int, int]], pixels_per_frame: float, width: int) -> tuple[tuple[int, int], ...]:
    """Each character's ``(start, end)`` columns of an image ``width`` wide, from its frames: from
    the first frame that writes it to the first frame of the next character, since CTC writes a
    character on a frame or two near its start and its ink runs on to the next one; the last
    character is as wide as the line's characters are on average. Each range is at least one
    column wide and inside the image."""
    if not frames:
        return ()
    starts = [first for first, _ in frames]
    pitch = (starts[-1] - starts[0]) / (len(starts) - 1) if len(starts) > 1 else 0.0
    ends = [*starts[1:], max(frames[-1][1], starts[-1] + pitch)]
    ranges = []
    for first, stop in zip(starts, ends):
        start = min(round(first * pixels_per_frame), width - 1)
        ranges.append((start, max(start + 1, min(round(stop * pixels_per_frame), width))))
    return tuple(ranges)


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
        decoding: DecodingOptions | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "cpu",
        decode_threads: int | None = None,
    ) -> None:
        """``decoding``: the decoder and spelling correction (default: greedy, no correction).
        ``decode_threads``: threads that decode and preprocess images ahead of the network
        (default: the cores, at most 4)."""
        if decoding is not None and not isinstance(decoding, DecodingOptions):
            raise LinescribeError(f"decoding must be a DecodingOptions, e.g. DecodingOptions('beam'), not {decoding!r}")
        _check_count("batch_size", batch_size)
        _check_count("decode_threads", decode_threads, optional=True)
        self.model = model
        self.decoding = decoding or DecodingOptions()
        self.decoder: Decoder = self.decoding.build(model.alphabet)
        self.batch_size = batch_size
        self.device = device
        self.decode_threads = decode_threads or min(available_cores(), 4)
        self.backend = model.backend
        if self.backend == "onnx":
            if device != "cpu":
                raise LinescribeError(f"the onnx backend runs on the CPU; device {device!r} needs the torch backend")
            self.net: Any = model.net
            self._forward: Forward = model.net
        else:
            self.net, self._forward = _torch_forward(model.net, device)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def horizontal_stride(self) -> float:
        """Model input columns per output frame, so that frames can be mapped back to image
        columns: measured on a blank line (either backend, any architecture) once per network,
        whatever number of Recognizers share it; the lock makes concurrent first readers wait
        for one measurement."""
        with _STRIDES_LOCK:
            stride = _STRIDES.get(self.model.net)
            if stride is None:
                preprocessing = self.model.preprocessing
                width = preprocessing.width or min(STRIDE_PROBE_WIDTH, preprocessing.max_width)
                blank = np.zeros((preprocessing.height, width), np.float32)
                _, lengths = self._forward(*pad_lines([blank], 1 if self.backend == "onnx" else WIDTH_MULTIPLE))
                stride = _STRIDES[self.model.net] = width / max(int(lengths[0]), 1)
        return stride

    @property
    def window(self) -> int:
        """Lines decoded ahead and sorted by width together: enough for well-filled batches."""
        return max(64, 4 * self.batch_size)

    def predict(self, images: ImageInput | Sequence[ImageInput]) -> Prediction | list[Prediction]:
        """One image (path, bytes, an open binary file, PIL image or array) -> one Prediction; a
        list -> a list.

        An unreadable image in a list gives a Prediction with ``error`` set; the others are read.
        A single unreadable image raises ImageError.
        """
        # an open file or a BytesIO is one image, not a list of its lines
        single = isinstance(images, (str, Path, bytes, bytearray, memoryview, Image.Image, np.ndarray)) or hasattr(images, "read")
        sources = [images] if single else list(images)
        predictions = self.predict_many(sources)
        if single:
            if predictions[0].error:
                raise ImageError(predictions[0].error)
            return predictions[0]
        return predictions

    def read_page(
        self, image: ImageInput, options: SegmentOptions | None = None, source: str | None = None
    ) -> PageResult:
        """Find the lines of a page or paragraph image, read them in reading order and return the
        page (``.text``, ``.lines`` with polygons and confidences; ``linescribe.layout`` writes it
        as text, JSON, PAGE or ALTO XML). See ``linescribe.layout.read_page``."""
        from linescribe.layout import read_page

        return read_page(self, image, options, source)

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
            gray = load(source)
            height, width = gray.shape
            preprocessing = self.model.preprocessing
            line = preprocessing(gray)
            scale = line.shape[1] / width if preprocessing.width is None else preprocessing.horizontal_scale(width, height)
            return _Prepared(name, line, width=width, scale=scale)
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
                item = window[index]
                results[index] = Prediction(
                    item.name,
                    hypothesis.text,
                    hypothesis.confidence,
                    hypothesis.char_confidences,
                    word_confidences=hypothesis.word_confidences,
                    alternatives=hypothesis.alternatives,
                    char_positions=pixel_ranges(hypothesis.char_frames, self.horizontal_stride / item.scale, item.width),
                )
        return results

    def recognize(self, preprocessed: Sequence[np.ndarray]) -> list[Hypothesis]:
        """Already preprocessed lines (H, W) float32 -> hypotheses, in one forward pass."""
        # onnxruntime keeps no per-shape kernel caches, so it is spared the rounding up of widths
        multiple = 1 if self.backend == "onnx" else WIDTH_MULTIPLE
        log_probs, lengths = self._forward(*pad_lines(preprocessed, multiple))
        # a line without ink has nothing to read: given no frames, every decoder returns "" for it
        # instead of what the network makes of plain paper (a stray letter, for the default model)
        lengths = np.where([is_blank(line) for line in preprocessed], 0, lengths)
        return self.decoder(log_probs, lengths, self.model.alphabet)


def set_torch_threads_for_reading() -> None:
    """PyTorch on TORCH_INFERENCE_THREADS: for a process that reads lines and nothing else (the
    command line), where no caller's thread setting is there to keep."""
    import torch

    torch.set_num_threads(TORCH_INFERENCE_THREADS)


def load_recognizer(
    path_or_name: str | Path | None = None,
    backend: str = "auto",
    threads: int | None = None,
    decoding: DecodingOptions | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "cpu",
    decode_threads: int | None = None,
) -> Recognizer:
    """A Recognizer for a model file path, a bundled model's name, or the default model."""
    _check_count("threads", threads, optional=True)  # the Recognizer checks its own counts
    return Recognizer(open_model(path_or_name, backend, threads, device), decoding, batch_size, device, decode_threads)


def _check_count(name: str, value: Any, optional: bool = False) -> None:
    """Refuse a count that is not a whole number of at least 1 now (a batch size of -2 read
    nothing without a word, decode_threads=-1 failed at the first line with a thread pool's error)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise LinescribeError(f"{name} must be a whole number of at least 1, got {value!r}")
