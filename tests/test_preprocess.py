import numpy as np
import pytest

from linescribe.data.preprocess import Preprocessing, is_blank
from linescribe.errors import ModelFileError


def _line(paper: int, ink: int, width: int = 300, height: int = 96) -> np.ndarray:
    image = np.full((height, width), paper, dtype=np.uint8)
    image[40:60, 20 : width - 20 : 7] = ink
    return image


def test_variable_width_keeps_aspect_ratio_and_polarity():
    out = Preprocessing(height=48)(_line(230, 20))
    assert out.shape == (48, 150) and out.dtype == np.float32
    assert out.max() == pytest.approx(1.0) and np.median(out) == pytest.approx(0.0)


def test_paper_tone_is_normalised_away():
    beige, white = Preprocessing()(_line(200, 60)), Preprocessing()(_line(250, 60))
    assert np.abs(beige - white).mean() < 0.02


def test_fixed_size_pads_with_paper():
    out = Preprocessing(height=64, width=800)(_line(230, 20, width=100, height=50))
    assert out.shape == (64, 800)
    assert out[:, 200:].max() == 0.0


@pytest.mark.parametrize("paper", [255, 240, 128, 30])
def test_a_line_without_ink_comes_out_as_plain_paper_whatever_its_tone(paper):
    rng = np.random.default_rng(0)
    blank = np.clip(paper + rng.integers(-3, 4, size=(40, 200)), 0, 255).astype(np.uint8)
    for preprocessing in (Preprocessing(), Preprocessing(height=64, width=800)):
        out = preprocessing(blank)
        assert is_blank(out) and not out.any()


def test_a_few_marks_on_a_blank_line_are_kept_without_amplifying_the_paper():
    rng = np.random.default_rng(0)
    line = (240 + rng.integers(-3, 4, size=(40, 400))).astype(np.uint8)
    line[18:24, 100:106] = 40  # a full stop: far fewer than the ink percentile's 2 % of the pixels
    out = Preprocessing()(line)
    assert not is_blank(out)
    assert out.max() > 0.7 and np.median(out) < 0.1


def test_extreme_aspect_ratio_is_clipped():
    out = Preprocessing(height=32, max_width=1000)(np.full((10, 100000), 200, dtype=np.uint8))
    assert out.shape == (32, 1000)


def test_round_trip_and_unknown_keys():
    config = Preprocessing(height=40, width=None)
    assert Preprocessing.from_dict(config.to_dict()) == config
    with pytest.raises(ModelFileError, match="unknown preprocessing"):
        Preprocessing.from_dict({"height": 40, "binarize": True})
