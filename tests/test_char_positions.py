"""Where each character is: frames of the CTC alignment mapped back to the input image's columns."""

from __future__ import annotations

from difflib import SequenceMatcher

from PIL import Image, ImageFont

import linescribe
from generated import OVERFIT_TEXTS, PAGE_TEXTS, render_line
from linescribe.data.preprocess import Preprocessing
from linescribe.decoding import DecodingOptions
from linescribe.large_jobs import json_record
from linescribe.inference import pixel_ranges


def _true_columns(text: str, scale: int) -> list[tuple[float, float]]:
    """Each character's columns on ``render_line(text)`` scaled ``scale`` times."""
    font = ImageFont.load_default(size=28)
    left = 8 - font.getbbox(text)[0]
    return [((left + font.getlength(text[:i])) * scale, (left + font.getlength(text[: i + 1])) * scale) for i in range(len(text))]


def test_char_positions_increase_inside_the_image_and_follow_its_scale(overfit_model):
    """The tiny model reads its lines exactly: each character gets a range, in order, inside the
    image, and the same line at twice the size gets twice the columns (the frames are the same:
    the preprocessing scales both to the model's height). Both backends place them alike."""
    onnx, torch = (linescribe.load_model(overfit_model, backend=backend) for backend in ("onnx", "torch"))
    for text in OVERFIT_TEXTS:
        image = render_line(text)
        double = image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC)
        once, twice = onnx.predict(image), onnx.predict(double)
        assert once.text == twice.text == text
        assert torch.predict(image).char_positions == once.char_positions
        for prediction, width in ((once, image.width), (twice, double.width)):
            positions = prediction.char_positions
            assert len(positions) == len(text)
            assert all(0 <= start < end <= width for start, end in positions)
            assert all(end <= following for (_, end), (following, _) in zip(positions, positions[1:]))  # in order
        for (start, end), (start2, end2) in zip(once.char_positions, twice.char_positions):
            assert abs(start2 - 2 * start) <= 8 and abs(end2 - 2 * end) <= 8  # one frame is 7.3 columns at 2x


def test_char_positions_lie_on_their_characters():
    """The default model writes each character near its left edge; its range runs to where the next
    one begins, so every character it read right is found within half its width of its ink."""
    recognizer = linescribe.load_model()
    checked = 0
    for text in PAGE_TEXTS:
        for scale in (1, 2):
            image = render_line(text)
            image = image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)
            prediction = recognizer.predict(image)
            truth = _true_columns(text, scale)
            matcher = SequenceMatcher(None, prediction.text.lower(), text, autojunk=False)
            for block in matcher.get_matching_blocks():
                for offset in range(block.size):
                    (start, end), (left, right) = prediction.char_positions[block.a + offset], truth[block.b + offset]
                    if text[block.b + offset] == " ":
                        continue
                    half = (right - left) / 2
                    assert left - half <= (start + end) / 2 <= right + half, (text, scale, block, (start, end), (left, right))
                    checked += 1
    assert checked >= 100  # most characters were read right and checked


def test_json_records_give_each_characters_columns(overfit_model, overfit_lines):
    recognizer = linescribe.load_model(overfit_model)
    path = sorted(overfit_lines.glob("*.png"))[0]
    record = json_record(recognizer.predict(str(path)))
    assert len(record["char_positions"]) == len(record["text"]) > 0
    assert all(isinstance(value, int) for pair in record["char_positions"] for value in pair)


def test_frames_become_columns_through_the_stride_and_the_scaling():
    # a fixed-size input (seed: 64x800): a 400x32 line is doubled to fill the height
    assert Preprocessing(height=64, width=800).horizontal_scale(400, 32) == 2.0
    # a variable-width input: as wide as the height scaling makes it
    assert Preprocessing(height=48).horizontal_scale(200, 96) == 0.5
    # 8 image columns per frame: each character runs to the next one's first frame, the last
    # as wide as the line's characters are on average, all inside the image
    assert pixel_ranges([(1, 2), (4, 5), (6, 8)], 8.0, 100) == ((8, 32), (32, 48), (48, 68))
    assert pixel_ranges([(10, 11), (12, 13)], 8.0, 100) == ((80, 96), (96, 100))
    assert pixel_ranges([], 8.0, 100) == ()


def test_the_stride_is_measured_once_per_network_whatever_the_recognizers_and_threads():
    """Recognizers built on one model (a server builds one per decoder) share one measurement,
    also when several threads ask for it first at once."""
    from concurrent.futures import ThreadPoolExecutor

    from generated import random_model
    from linescribe.inference import Recognizer

    model = random_model()
    passes = []
    model.net.register_forward_hook(lambda *_: passes.append(1))
    recognizers = [Recognizer(model), Recognizer(model, DecodingOptions("beam")), Recognizer(model, batch_size=2)]
    with ThreadPoolExecutor(len(recognizers)) as pool:
        strides = list(pool.map(lambda recognizer: recognizer.horizontal_stride, recognizers * 2))
    assert strides == [model.net.horizontal_stride] * len(strides) and passes == [1]
    assert Recognizer(random_model(seed=1)).horizontal_stride == strides[0]  # another network: measured for itself
