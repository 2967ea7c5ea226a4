import cv2
import numpy as np
import pytest

from linescribe.data.preprocess import MAX_CORE_ZOOM, Preprocessing, core_band, is_blank
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


@pytest.mark.parametrize("paper", [240, 180, 120])
def test_a_few_marks_on_a_blank_line_are_kept_without_amplifying_the_paper(paper):
    """Grey paper goes to 0 here too (it came out 0.29 at 180, 0.53 at 120: a short word in a
    wide crop read worse)."""
    rng = np.random.default_rng(0)
    line = (paper + rng.integers(-3, 4, size=(40, 400))).astype(np.uint8)
    line[18:24, 100:106] = 20  # a full stop: far fewer than the ink percentile's 2 % of the pixels
    out = Preprocessing()(line)
    assert not is_blank(out)
    assert out.max() > 0.7 and np.median(out) < 0.02


def test_extreme_aspect_ratio_is_clipped():
    out = Preprocessing(height=32, max_width=1000)(np.full((10, 100000), 200, dtype=np.uint8))
    assert out.shape == (32, 1000)


def test_round_trip_and_unknown_keys():
    config = Preprocessing(height=40, width=None)
    assert Preprocessing.from_dict(config.to_dict()) == config
    with pytest.raises(ModelFileError, match="unknown preprocessing"):
        Preprocessing.from_dict({"height": 40, "binarize": True})


def _cursive_like(rows: int = 96, columns: int = 600, core: tuple[int, int] = (50, 70)) -> np.ndarray:
    """Paper with dense strokes in the core rows and a few tall thin ascenders and descenders."""
    image = np.full((rows, columns), 230, dtype=np.uint8)
    image[core[0] : core[1], 20 : columns - 20 : 6] = 30
    image[core[0] : core[1], 23 : columns - 20 : 6] = 30
    image[10 : core[0], 40 : columns - 40 : 90] = 30
    image[core[1] : rows - 8, 80 : columns - 40 : 120] = 30
    return image


def test_the_core_band_is_where_strokes_cross_rows_most_not_the_crop():
    assert core_band(_cursive_like()) == pytest.approx((50, 70), abs=2)
    assert core_band(np.full((40, 300), 200, np.uint8)) is None


def test_a_ruled_line_or_a_neighbours_letters_do_not_take_the_core_band():
    """A full-width rule is the densest row of all, and a neighbour line's letters caught at the
    edge of a loose crop are as dense as the line's own: either took the band, and the window
    cut the writing away."""
    ruled = _cursive_like()
    ruled[88:91, :] = 20
    assert core_band(ruled) == pytest.approx((50, 70), abs=2)
    neighbour = _cursive_like()
    neighbour[0:12, 20:580:6] = 30  # the bottom of the line above: as many strokes, at the edge
    neighbour[0:12, 23:580:6] = 30
    assert core_band(neighbour) == pytest.approx((50, 70), abs=2)


def test_a_window_that_would_cut_off_most_of_the_ink_is_not_used():
    two_lines = _cursive_like()
    two_lines[10:30, 20:580:6] = 30  # a second, as dense line in the same crop
    two_lines[10:30, 23:580:6] = 30
    cored = Preprocessing(core_height=16)
    assert cored.core_window(two_lines) is None
    assert cored(two_lines).shape == Preprocessing()(two_lines).shape


def test_a_lone_word_is_scaled_the_same_whatever_paper_surrounds_it():
    word = _cursive_like(columns=120)
    wide = np.full((96, 600), 230, np.uint8)
    wide[:, :120] = word
    cored = Preprocessing(core_height=16)
    zoom = cored.input_width(word) / Preprocessing().output_width(120, 96)
    assert zoom > 1.3
    assert cored.input_width(wide) / Preprocessing().output_width(600, 96) == pytest.approx(zoom, rel=0.05)


def test_a_core_height_scales_the_core_band_to_it_and_centres_it():
    line = _cursive_like()
    plain, cored = Preprocessing(height=48)(line), Preprocessing(height=48, core_height=16)(line)
    # the crop's ~20-row core was ~10 rows at 48 px; now it is 16, so the line is ~1.6x as wide
    top, bottom = core_band(line)
    assert cored.shape == (48, round(line.shape[1] * 48 / round((bottom - top) * 3)))
    assert 1.4 < cored.shape[1] / plain.shape[1] < 1.7
    ink_rows = np.flatnonzero(cored.mean(axis=1) > 0.3)
    assert ink_rows[0] == pytest.approx(16, abs=1) and ink_rows[-1] + 1 == pytest.approx(32, abs=1)


def test_a_core_height_never_shrinks_a_line_nor_blows_one_up_past_the_limit():
    tall_core = _cursive_like(core=(10, 86))  # the core fills the crop: as without a core height
    assert Preprocessing(core_height=16)(tall_core).shape == Preprocessing()(tall_core).shape
    thin_core = _cursive_like(core=(50, 52))  # a 2-row "core" (an underline): zoom stops at MAX_CORE_ZOOM
    assert Preprocessing(core_height=16)(thin_core).shape[1] == round(Preprocessing()(thin_core).shape[1] * MAX_CORE_ZOOM)


def test_core_height_settings_are_checked_and_stored():
    with pytest.raises(ValueError, match="core height 60"):
        Preprocessing(height=48, core_height=60)
    with pytest.raises(ValueError, match="fixed width"):
        Preprocessing(height=64, width=800, core_height=16)
    config = Preprocessing(core_height=16)
    assert Preprocessing.from_dict(config.to_dict()) == config
    # a model file without one holds no core_height key: it still opens in versions before it
    assert "core_height" not in Preprocessing().to_dict()
    assert Preprocessing.from_dict(Preprocessing().to_dict()) == Preprocessing()


@pytest.mark.parametrize("rows", [96, 13, 10, 4])
def test_the_widest_output_bounds_what_a_core_height_can_make_of_a_line(rows):
    line = _cursive_like(rows=96, core=(50, 52))[48 - rows // 2 : 48 - rows // 2 + rows]
    cored = Preprocessing(core_height=16)
    assert cored(line).shape[1] == cored.input_width(line) <= cored.widest_output(line.shape[1], rows)
    assert cored.widest_output(line.shape[1], rows) <= Preprocessing().output_width(line.shape[1], rows) * MAX_CORE_ZOOM + 1
    assert Preprocessing().widest_output(600, 96) == Preprocessing().output_width(600, 96) == 300


def test_faint_thin_strokes_that_resizing_averages_away_are_not_taken_for_a_blank_line():
    line = np.full((400, 600), 230, np.uint8)
    line[150:250, 20:580:40] = 200  # 1-px pencil strokes 30 levels darker: under 16 once shrunk 8x
    assert int(cv2.resize(line, (75, 48), interpolation=cv2.INTER_AREA).min()) > 230 - 16
    assert not is_blank(Preprocessing()(line))
