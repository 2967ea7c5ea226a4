"""The public API: load_model() and Recognizer.predict on every kind of input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import linescribe
from linescribe.decoding import DecodingOptions
from linescribe.errors import ImageError, LinescribeError, ModelFileError


def test_predict_accepts_paths_pil_arrays_and_bytes(overfit_model, overfit_lines):
    recognizer = linescribe.load_model(overfit_model)
    path = sorted(overfit_lines.glob("*.png"))[0]
    expected = path.with_suffix(".gt.txt").read_text(encoding="utf-8").strip()
    image = Image.open(path)
    inputs = [path, str(path), image, np.asarray(image), np.asarray(image.convert("RGB")), path.read_bytes()]
    # regression: an open file, a BytesIO or a memoryview was taken as a list of images (its
    # lines, its bytes: 1,076 "predictions" of errors)
    inputs += [io.BytesIO(path.read_bytes()), memoryview(path.read_bytes()), bytearray(path.read_bytes())]
    for source in [*inputs, path.open("rb")]:  # each alone, and in a list below
        prediction = recognizer.predict(source)
        assert prediction.text == expected
        assert 0.0 <= prediction.confidence <= 1.0
        assert len(prediction.char_confidences) == len(expected)
    together = [io.BytesIO(path.read_bytes()), memoryview(path.read_bytes()), bytearray(path.read_bytes()), path.open("rb")]
    assert [p.text for p in recognizer.predict(together)] == [expected] * 4
    with pytest.raises(ImageError, match="a file opened as text; open the image with 'rb'"):
        recognizer.predict(path.open("r", encoding="latin-1"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a whole number of at least 1, got 0"),
        ({"batch_size": -2}, "batch_size must be"),
        ({"threads": -3}, "threads must be"),
        ({"decode_threads": -1}, "decode_threads must be"),
        ({"spell": True, "speller": "symspell-fr"}, "give spell= or speller=, not both"),
    ],
)
def test_load_model_refuses_counts_below_one_and_two_spellers(overfit_model, options, message):
    """Regression: batch_size=0 became 16, -2 and threads=-3 were taken, decode_threads=-1 failed
    at the first line, and speller= beside spell= was a TypeError."""
    with pytest.raises(LinescribeError, match=message):
        linescribe.load_model(overfit_model, **options)


def test_load_model_takes_a_speller_by_its_decoding_options_name(overfit_model):
    assert linescribe.load_model(overfit_model, speller="symspell-fr").decoding.speller == "symspell-fr"
    assert linescribe.load_model(overfit_model, spell=True, speller=None).decoding.speller == "symspell"


def test_batch_results_keep_the_callers_order(overfit_model, overfit_lines):
    recognizer = linescribe.load_model(overfit_model, batch_size=2)
    paths = sorted(overfit_lines.glob("*.png"))[::-1]
    texts = [p.with_suffix(".gt.txt").read_text(encoding="utf-8").strip() for p in paths]
    assert [p.text for p in recognizer.predict(paths)] == texts


def test_unreadable_image_in_a_batch_does_not_stop_the_others(overfit_model, overfit_lines, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    good = sorted(overfit_lines.glob("*.png"))[0]
    recognizer = linescribe.load_model(overfit_model)
    bad, fine = recognizer.predict([broken, good])
    assert not bad.ok and "broken.png" in bad.error
    assert fine.ok and fine.text
    with pytest.raises(ImageError, match="broken.png"):
        recognizer.predict(broken)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="nope.safetensors"):
        linescribe.load_model(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="no bundled model"):
        linescribe.load_model("no-such-model-name")


def test_windows_of_decoded_lines_come_back_in_the_callers_order():
    """Many lines, several decode-ahead windows, width-sorted batches inside each, bad sources
    among them: every prediction is where its source was."""
    from linescribe.inference import Recognizer

    from generated import line_texts, random_model, render_line

    recognizer = Recognizer(random_model(), batch_size=4)
    texts = line_texts(150, seed=2)
    images = [np.asarray(render_line(text)) for text in texts]
    singles = [recognizer.predict(image).text for image in images[:12]]
    sources = [*images[:140], b"not an image", *images[140:]]
    windows = list(recognizer.predict_windows(sources))
    assert [len(window) for window in windows] == [64, 64, 23]
    predictions = [p for window in windows for p in window]
    assert [p.text for p in predictions[:12]] == singles
    assert not predictions[140].ok and predictions[140].error.startswith("<12 bytes>: ")
    assert [p.ok for p in predictions].count(False) == 1


def test_a_loader_that_fails_unexpectedly_costs_one_line_only():
    from linescribe.inference import Recognizer

    from generated import random_model, render_line

    def load(source):
        if source == "odd":
            raise ValueError("cannot happen")
        return np.asarray(render_line(source))

    predictions = list(Recognizer(random_model()).predict_iter(["a cat", "odd", "a dog"], load=load))
    assert [p.ok for p in predictions] == [True, False, True]
    assert predictions[1].error == "odd: cannot read the image (ValueError: cannot happen)"


def test_building_a_recognizer_does_not_disturb_one_reading_in_another_thread():
    """Regression (found by the server soak test as a rare 500): each new Recognizer called
    ``net.to(device)`` on the shared network, which re-initialises an LSTM's flat weight list,
    so a forward pass running in another thread failed (``zip() argument 2 is longer ...``)."""
    import threading
    import time

    from linescribe.inference import Recognizer

    from generated import random_model, render_line

    model = random_model()
    reading = Recognizer(model)
    image = np.asarray(render_line("a cab"))
    failures: list[Exception] = []
    building = threading.Event()

    def read() -> None:
        building.wait()
        for _ in range(60):
            try:
                reading.predict(image)
            except Exception as error:  # noqa: BLE001 (any failure is the finding)
                failures.append(error)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    building.set()
    while any(thread.is_alive() for thread in readers):
        Recognizer(model, DecodingOptions("beam"))
        time.sleep(0.001)  # let the readers have the GIL too
    for thread in readers:
        thread.join()
    assert failures == []


def test_a_recognizer_for_another_device_leaves_the_shared_network_where_it_is():
    """``meta`` stands in for a GPU: the network other Recognizers read on the CPU stays there."""
    from linescribe.inference import Recognizer

    from generated import random_model, render_line

    model = random_model()
    on_cpu = Recognizer(model)
    image = np.asarray(render_line("a cab"))
    before = on_cpu.predict(image).text
    elsewhere = Recognizer(model, device="meta")
    assert next(elsewhere.net.parameters()).device.type == "meta"
    assert next(model.net.parameters()).device.type == "cpu"
    assert on_cpu.predict(image).text == before


def test_decoding_given_the_old_way_is_a_clear_error():
    from generated import random_model

    from linescribe.inference import Recognizer

    with pytest.raises(LinescribeError, match="decoding must be a DecodingOptions"):
        Recognizer(random_model(), "beam")


def test_evaluation_reads_the_lines_through_the_given_loader(overfit_model, overfit_lines):
    from linescribe.data.dataset import load_datasets
    from linescribe.evaluation import evaluate
    from linescribe.inference import load_recognizer

    (dataset,) = load_datasets([str(overfit_lines)])
    recognizer = load_recognizer(overfit_model, backend="torch")
    assert evaluate(recognizer, dataset.samples).rates.cer == 0.0
    blank = evaluate(recognizer, dataset.samples, load=lambda sample: np.full((32, 200), 230, np.uint8))
    assert blank.rates.cer == 1.0 and all(line.prediction == "" for line in blank.lines)
