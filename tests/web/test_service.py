"""ModelService: request options over the server's defaults, the Recognizer cache, and parallel
requests on one shared network reading exactly what one request at a time reads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from generated import line_texts, render_line
from PIL import Image

from linescribe.decoding import DecodingOptions
from linescribe.web.errors import RequestError
from linescribe.web.service import LAYOUTS, ModelService


@pytest.fixture(scope="module")
def model(service):
    return service.model


def test_server_defaults_apply_only_where_the_chosen_decoder_takes_them(model):
    service = ModelService(model, defaults=DecodingOptions("beam", beam_width=4))
    assert service.decoding({}) == DecodingOptions("beam", beam_width=4)
    assert service.decoding({"decoder": "greedy"}) == DecodingOptions()
    assert service.decoding({"beam_width": 2}) == DecodingOptions("beam", beam_width=2)
    assert service.decoding({"decoder": "beam_lm", "lm_weight": 0.3}) == DecodingOptions("beam_lm", beam_width=4, lm_weight=0.3)


def test_a_requested_option_the_decoder_does_not_take_is_refused(model):
    service = ModelService(model)
    with pytest.raises(RequestError, match="^lm_weight needs decoder beam_lm \\(got decoder beam\\)$") as refused:
        service.decoding({"decoder": "beam", "lm_weight": 1.0})
    assert refused.value.status == 400


def test_spell_follows_the_request_then_the_server(model):
    assert ModelService(model).decoding({}).speller is None
    assert ModelService(model).decoding({"spell": True}).speller == "symspell"
    assert ModelService(model, speller="symspell-fr").decoding({"spell": True}).speller == "symspell-fr"
    server_spells = ModelService(model, DecodingOptions(speller="symspell-fr"))
    assert server_spells.decoding({}).speller == "symspell-fr"
    assert server_spells.decoding({"spell": False}).speller is None


def test_recognizers_are_cached_per_options_and_bounded(model):
    service = ModelService(model, cache_size=2)
    greedy = service.recognizer(DecodingOptions())
    assert service.recognizer(DecodingOptions()) is greedy
    for width in (2, 3, 4):
        service.recognizer(DecodingOptions("beam", beam_width=width))
    assert len(service._recognizers) == 2
    assert service.recognizer(DecodingOptions()) is not greedy
    assert all(recognizer.net is model.net for recognizer in service._recognizers.values())


def test_the_lm_and_speller_are_loaded_at_start_up_and_a_missing_one_only_warns(model, caplog):
    import time

    with caplog.at_level("INFO"):
        service = ModelService(model)
    assert "loaded the language model" in caplog.text and "loaded the spelling dictionary" in caplog.text
    start = time.perf_counter()
    service.read([np.asarray(render_line("the cat"))], {"decoder": "beam_lm", "spell": True})
    assert time.perf_counter() - start < 2.0  # nothing left to load (it took 5 s on the first request)
    import importlib.util

    if importlib.util.find_spec("autocorrect") is None:  # not a dependency: the server starts anyway
        caplog.clear()
        with caplog.at_level("WARNING"):
            ModelService(model, speller="autocorrect")
        assert "cannot load the spelling dictionary (" in caplog.text


def test_what_cannot_load_is_left_off_the_page_and_refused_with_503(model, monkeypatch):
    """A speller whose package is missing once gave every spell=true request a 500, and the page
    still offered the toggle."""
    import linescribe.decoding.options as options_module
    from linescribe.web import create_app

    def missing(*args, **kwargs):
        raise ImportError("No module named 'autocorrect'")

    monkeypatch.setattr(options_module, "Speller", missing)
    service = ModelService(model, speller="autocorrect")
    assert set(service.unavailable) == {"spell"}
    with pytest.raises(RequestError, match="cannot read with spell: the spelling dictionary failed to load") as refused:
        service.read([np.asarray(render_line("the cat"))], {"spell": True})
    assert refused.value.status == 503
    assert "autocorrect" not in str(refused.value), "the reason (a path, a package) stays in the server's log"
    assert service.read([np.asarray(render_line("the cat"))], {}).lines
    page = create_app(service).test_client().get("/").get_data(as_text=True)
    assert 'name="decoder"' in page and 'name="spell"' not in page


def test_decoder_options_of_the_server_serve_whichever_decoder_takes_them(model):
    """serve --lm french with the greedy default: decoder=beam_lm requests read with the French LM
    (the flag was refused unless --decoder beam_lm, and such requests got the English LM)."""
    service = ModelService(model, decoder_options={"lm": "french", "beam_width": 3})
    assert service.decoding({}) == DecodingOptions()
    assert service.decoding({"decoder": "beam"}) == DecodingOptions("beam", beam_width=3)
    assert service.decoding({"decoder": "beam_lm", "beam_width": 5}) == DecodingOptions("beam_lm", beam_width=5, lm="french")


def test_read_gives_each_image_its_lines_and_the_options_used(service):
    images = [np.asarray(render_line(text)) for text in ("the cat", "a dog ran")]
    reading = service.read(images, {"decoder": "beam", "beam_width": 4})
    assert [len(lines) for lines in reading.lines] == [1, 1]
    assert reading.decoding == {"decoder": "beam", "beam_width": 4, "spell": False, "layout": "line"}
    assert set(LAYOUTS) == {"line", "page"}


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_parallel_requests_read_what_sequential_ones_read(service, decoder):
    images = [
        np.asarray(render_line(text, seed=index).convert("L")) for index, text in enumerate(line_texts(16, seed=5))
    ]
    images += [
        np.asarray(Image.fromarray(image).resize((image.shape[1] * 2, image.shape[0] * 2))) for image in images[:4]
    ]
    requested = {"decoder": decoder}

    def read(image: np.ndarray) -> tuple[str, tuple[float, ...]]:
        (line,) = service.read([image], requested).lines[0]
        return line.text, line.char_confidences

    sequential = [read(image) for image in images]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(2):
            assert list(pool.map(read, images)) == sequential
