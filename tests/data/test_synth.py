"""Synthetic lines must look like ink on paper and never show a text other than their label."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from linescribe.cli.synth import synth
from linescribe.data.images import load_gray
from linescribe.data.synth import LineSynthesizer, SynthConfig, write_dataset
from linescribe.data.synth.fontset import VENDORED_FONTS, truetype
from linescribe.data.synth.text import TextSampler
from linescribe.errors import AlphabetError, DatasetError, LinescribeError

ACCENTED = set("éèêëàâîïôûùçœæÉÈÀÇÊÔŒ")


@pytest.fixture(scope="module")
def synthesizer() -> LineSynthesizer:
    return LineSynthesizer()


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rng = np.random.default_rng(7)
    sampler = TextSampler()
    return [sampler.sample(rng) for _ in range(500)]


@pytest.fixture
def ecolier_only(tmp_path: Path) -> Path:
    """A fonts folder with one font that has no 'Œ'."""
    folder = tmp_path / "fonts"
    folder.mkdir()
    shutil.copy(VENDORED_FONTS / "ecolier-court.ttf", folder)
    return folder


def test_rendered_line_is_dark_ink_on_light_paper(synthesizer: LineSynthesizer) -> None:
    image = synthesizer.render("Dear Dyer, été 1914 & Kew", np.random.default_rng(0))
    assert image.dtype == np.uint8 and image.ndim == 2
    assert image.shape[0] == 96 and image.shape[1] > 200
    paper, ink = np.percentile(image, 90), np.percentile(image, 1)
    assert paper > 150 and paper - ink > 50
    assert (image < (paper + ink) / 2).mean() > 0.01


def test_height_follows_the_config() -> None:
    image, _ = LineSynthesizer(config=SynthConfig(height=48)).sample(np.random.default_rng(1))
    assert image.shape[0] == 48


def test_same_seed_same_line(synthesizer: LineSynthesizer) -> None:
    first_image, first_text = synthesizer.sample(np.random.default_rng(42))
    second_image, second_text = synthesizer.sample(np.random.default_rng(42))
    _, other_text = synthesizer.sample(np.random.default_rng(43))
    assert first_text == second_text and np.array_equal(first_image, second_image)
    assert other_text != first_text


def test_fonts_without_a_character_are_never_used_for_it(synthesizer: LineSynthesizer) -> None:
    drawing_oe = {face.path.name for face in synthesizer.fonts_for("Œuvre et œuvre")}
    assert "ecolier-court.ttf" not in drawing_oe and "cedarville-cursive.ttf" not in drawing_oe
    assert "caveat.ttf" in drawing_oe
    with pytest.raises(AlphabetError, match="no font has '漢'"):
        synthesizer.render("漢 world", np.random.default_rng(0))


def test_uncovered_text_is_refused_and_never_sampled(ecolier_only: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Œuvre complète " * 3 + "une œuvre de jeunesse\n" * 20, encoding="utf-8")
    synthesizer = LineSynthesizer(fonts_dir=ecolier_only, corpus=corpus)
    with pytest.raises(LinescribeError):
        synthesizer.render("Œuvre", np.random.default_rng(0))
    rng = np.random.default_rng(0)
    assert all("Œ" not in synthesizer.sample_text(rng) for _ in range(50))


def test_every_vendored_glyph_draws_ink(synthesizer: LineSynthesizer, texts: list[str]) -> None:
    """A character in a font's cmap must not be drawn as nothing (cf. the Korean fonts' empty .notdef)."""
    characters = {char for text in texts for char in text if not char.isspace()}
    for face in synthesizer.fonts:
        font = truetype(face.path, 40)
        for char in sorted(characters & face.chars):
            image = Image.new("L", (120, 120), 0)
            ImageDraw.Draw(image).text((30, 80), char, font=font, fill=255, anchor="ls")
            assert np.asarray(image).max() > 100, f"{face.path.name} draws {char!r} as nothing"


def test_alphabet_restricts_the_texts() -> None:
    alphabet = set("abcdefghijklmnopqrstuvwxyz ")
    synthesizer = LineSynthesizer(alphabet=alphabet)
    rng = np.random.default_rng(3)
    for _ in range(100):
        assert set(synthesizer.sample_text(rng)) <= alphabet
    with pytest.raises(AlphabetError):
        LineSynthesizer(alphabet=set("0 "))
    with pytest.raises(AlphabetError, match="the alphabet has no space"):  # spaces were added to it unasked
        LineSynthesizer(alphabet=alphabet - {" "})


def test_characters_that_draw_nothing_are_left_out_of_corpus_labels(tmp_path: Path) -> None:
    """Soft hyphens and zero-width spaces are in many fonts' cmaps but draw nothing: the labels
    held them where the images showed none."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hand\u00adwrit\u00adten let\u200bters \ufefffrom the archive\n", encoding="utf-8")
    assert " ".join(TextSampler(corpus).corpus_words) == "handwritten letters from the archive"


def test_corpus_is_cut_into_chunks_of_its_words(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    words = [f"mot{i}" for i in range(200)]
    corpus.write_text("\n".join(" ".join(words[i : i + 7]) for i in range(0, 200, 7)), encoding="utf-8")
    sampler = TextSampler(corpus)
    rng = np.random.default_rng(0)
    for _ in range(50):
        chunk = sampler.sample(rng).split()
        assert 1 <= len(chunk) <= 12
        start = words.index(chunk[0])
        assert chunk == words[start : start + len(chunk)]


def test_bad_corpus_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(DatasetError, match="empty.txt: corpus has no words"):
        TextSampler(empty)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("été".encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        TextSampler(latin1)


def test_builtin_text_looks_like_prose(texts: list[str]) -> None:
    joined = "".join(texts)

    def share(chars: str | set[str]) -> float:
        return sum(char in chars for char in joined) / len(joined)

    assert 0.02 < sum(char.isupper() for char in joined) / len(joined) < 0.08
    assert 0.004 < share(",") < 0.02 and 0.004 < share(".") < 0.02
    assert 0.005 < sum(char.isdigit() for char in joined) / len(joined) < 0.05
    assert 0.003 < share(ACCENTED) < 0.03
    assert share("'’") > 0.001 and share("&") > 0.0003 and share("-") > 0.001
    lengths = np.array([len(text) for text in texts])
    assert 25 <= np.median(lengths) <= 50
    assert np.mean((lengths >= 10) & (lengths <= 75)) > 0.9
    assert all(1 <= len(text.split()) <= 14 for text in texts)


def test_write_dataset_writes_matching_pairs(synthesizer: LineSynthesizer, tmp_path: Path) -> None:
    assert write_dataset(tmp_path / "out", 3, synthesizer, seed=5) == 3
    for index in range(3):
        image = load_gray(tmp_path / "out" / f"{index:06d}.png")
        text = (tmp_path / "out" / f"{index:06d}.gt.txt").read_text(encoding="utf-8")
        assert image.shape[0] == 96 and text.endswith("\n") and text.count("\n") == 1 and text.strip()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"{i:06d}{suffix}" for i in range(3) for suffix in (".gt.txt", ".png")
    ]


def test_cli_writes_n_lines(tmp_path: Path) -> None:
    result = CliRunner().invoke(synth, [str(tmp_path / "lines"), "-n", "4", "--seed", "1", "--height", "64"])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "lines").glob("*.png"))) == 4
    assert len(list((tmp_path / "lines").glob("*.gt.txt"))) == 4
    assert load_gray(tmp_path / "lines" / "000000.png").shape[0] == 64


def test_config_is_validated() -> None:
    with pytest.raises(LinescribeError, match="height"):
        SynthConfig(height=8)
    with pytest.raises(LinescribeError, match="x_height"):
        SynthConfig(x_height=(0.3, 0.2))


def test_vendored_fonts_are_listed_with_licences() -> None:
    with open(VENDORED_FONTS / "fonts.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert {row["file"] for row in rows} == {p.name for p in VENDORED_FONTS.glob("*.ttf")}
    assert 12 <= len(rows) <= 16
    assert sum(row["family"].startswith("Playwrite") for row in rows) <= 2
    for row in rows:
        assert row["licence"] in {"OFL-1.1", "Apache-2.0"} and row["copyright"]
        assert (VENDORED_FONTS / row["licence_file"]).is_file()
    assert sum(p.stat().st_size for p in VENDORED_FONTS.rglob("*")) < 3_000_000


def test_known_false_glyphs_stay_out_with_a_font_folder_whose_table_lacks_them(tmp_path: Path) -> None:
    """Cedarville's œ reads as Œ; the shared font pack's fonts.tsv has no skip_chars column, and
    with --synth-fonts pointing there the false glyph was drawn again."""
    from linescribe.data.synth.fontset import load_fonts

    shutil.copy(VENDORED_FONTS / "cedarville-cursive.ttf", tmp_path)
    (tmp_path / "fonts.tsv").write_text("file\tfamily\tstyle\ncedarville-cursive.ttf\tCedarville\tcursive\n", encoding="utf-8")
    (face,) = load_fonts(tmp_path)
    assert "e" in face.chars and not {"\u0153", "\u00a3"} & face.chars
