"""linescribe: read handwritten text lines with a CNN + BiLSTM + CTC recognizer.

    >>> import linescribe
    >>> recognizer = linescribe.load_model()          # the bundled default model
    >>> recognizer.predict("line.png").text           # one line image: a Prediction
    >>> page = recognizer.read_page("letter.jpg")     # a page: its lines found, ordered and read
    >>> page.text, page.lines[0].polygon
    >>> from linescribe.layout import to_alto         # also to_page_xml, to_json, write_outputs
    >>> to_alto(page)                                 # ALTO XML bytes, with word boxes

An existing segmentation (PAGE or ALTO XML) is read with ``linescribe.layout.read_document``,
which writes the text back into the file's own tree (``reading.to_xml()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linescribe.errors import LinescribeError

__version__ = "0.1.0"


def load_model(
    path_or_name: str | Path | None = None,
    decoder: str = "greedy",
    batch_size: int | None = None,
    device: str = "cpu",
    backend: str = "auto",
    threads: int | None = None,
    spell: bool | str = False,
    decode_threads: int | None = None,
    **decoding: Any,
):
    """A ``Recognizer`` for a model file (``.safetensors`` or exported ``.onnx``), a bundled
    model name, or (None) the default model.

    ``backend``: ``onnx`` (onnxruntime; a ``.safetensors`` model is exported once and cached),
    ``torch`` (PyTorch) or ``auto`` (onnx on the CPU, torch on another ``device``).
    ``threads``: the network's CPU threads (default: every core for onnx; for torch, the
    process's own setting, which a library must not change behind its caller's back: the
    command line sets 1, ``linescribe.inference.set_torch_threads_for_reading()`` does it here).
    ``batch_size``: lines per forward pass (default: ``inference.DEFAULT_BATCH_SIZE``).
    ``decoder`` and ``decoding``: a decoder and its options (``beam_width``, ``n_best``, ``lm``,
    ``lm_weight``, ``word_bonus``, ``lexicon``, ...; see ``linescribe.decoding.DecodingOptions``),
    e.g. ``load_model(decoder="beam_lm", lm="english")``; an option the decoder does not take is
    a LinescribeError. ``spell``: True (the default speller) or a speller's name to correct the
    spelling of the decoded words. ``decode_threads``: threads that decode and preprocess images
    ahead of the network (default: the cores, at most 4).
    """
    from linescribe.decoding import DecodingOptions
    from linescribe.decoding.spell import DEFAULT_SPELLER
    from linescribe.inference import DEFAULT_BATCH_SIZE, load_recognizer

    if "speller" in decoding:  # DecodingOptions' own name for it
        speller = decoding.pop("speller")
        if spell and speller:
            raise LinescribeError("give spell= or speller=, not both")
        spell = spell or speller or False
    options = DecodingOptions.of(decoder, speller=DEFAULT_SPELLER if spell is True else spell or None, **decoding)
    return load_recognizer(
        path_or_name, backend, threads, options, DEFAULT_BATCH_SIZE if batch_size is None else batch_size, device, decode_threads
    )


def adapt(data: str | Path | list[str | Path], output: str | Path, model: str | Path = "default", **options: Any):
    """Adapt ``model`` (a bundled name, a ``.safetensors`` file or a run folder) to the corrected
    lines in ``data`` (datasets as ``linescribe adapt`` takes them, e.g. ``"page:corrected/"``),
    writing the run to ``output``; ``options`` are the fields of
    ``linescribe.training.config.AdaptConfig``. Returns an ``AdaptResult`` (CER before and after,
    whether the adapted model was kept, the characters added, the model's path). Needs the
    ``[train]`` extra."""
    from linescribe.training.adapt import adapt as run_adaptation
    from linescribe.training.config import AdaptConfig

    datasets = [str(item) for item in data] if isinstance(data, list) else [str(data)]
    return run_adaptation(AdaptConfig(data=datasets, output=Path(output), model=str(model), **options))


__all__ = ["LinescribeError", "adapt", "load_model", "__version__"]
