"""Drawing one text line with a handwriting font so that it looks written and scanned, not typeset.

Each word is laid out by raqm (so cursive fonts join their letters), sized by its x-height rather
than its point size, and jittered in size, height and spacing; the whole line is then slanted,
waved along a drifting baseline, given a pen width, inked unevenly on textured paper (white,
beige or grey, sometimes ruled) and blurred, noised and JPEG-compressed like a scan. Everything
happens at the output resolution, so a line costs a few milliseconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from linescribe.data.synth.fontset import FontFace, truetype
from linescribe.errors import LinescribeError

Range = tuple[float, float]

APOSTROPHES = re.compile("(['’])")
"""Apostrophes are drawn apart from their letters: tightly kerned fonts put them over the next
letter, where j'a reads as já."""


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the synthetic lines; ranges are (low, high) drawn uniformly per line.

    Fractions are of the line height, so the defaults match the real 96 px lines at any height.
    """

    height: int = 96
    x_height: Range = (0.14, 0.25)
    """Lowercase height: about 0.2 in the real lines (ascenders, descenders and margins fill the rest)."""
    baseline: Range = (0.58, 0.74)
    """Baseline position from the top."""
    slant_degrees: float = 7.0
    """Standard deviation of the slant added to the font's own."""
    stretch: Range = (1.05, 1.6)
    """Horizontal scale: narrow to wide hands."""
    word_gap: Range = (0.7, 1.6)
    """Space between words, in x-heights."""
    stroke: Range = (0.015, 0.038)
    """Pen width."""
    french_fraction: float = 0.4
    """Share of built-in lines in French."""
    ruled_probability: float = 0.3
    underline_probability: float = 0.04
    neighbour_probability: float = 0.15
    """Strokes of the lines above and below cut in at the top or bottom edge, as in real crops."""
    jpeg_probability: float = 0.5

    def __post_init__(self) -> None:
        if self.height < 16:
            raise LinescribeError(f"synth height {self.height} is too small; use at least 16 px")
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, tuple) and not 0 <= value[0] <= value[1]:
                raise LinescribeError(f"synth {field.name} range {value} must be (low, high) with 0 <= low <= high")
        for name in (
            "french_fraction",
            "ruled_probability",
            "underline_probability",
            "neighbour_probability",
            "jpeg_probability",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise LinescribeError(f"synth {name} must be between 0 and 1, not {getattr(self, name)}")


def render_line(text: str, face: FontFace, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """``text`` in ``face`` as an (height, W) uint8 image, dark ink on light paper."""
    height = config.height
    x_height = rng.uniform(*config.x_height) * height
    ink, baseline = _lay_out(text, face, x_height, config, rng)
    ink = _set_pen_width(ink, face, x_height / face.x_height_em, rng.uniform(*config.stroke) * height)
    ink, baseline = _warp(ink, baseline, x_height, config, rng)
    line_ink, line_baseline = _frame(ink, baseline, config, rng)
    if rng.random() < config.neighbour_probability:
        _add_neighbour_strokes(line_ink, rng)
    paper = _paper(line_ink.shape, line_baseline, config, rng)
    return _scan(_apply_ink(paper, line_ink, rng), config, rng)


class _Word(NamedTuple):
    """A word, or a part of one split at an apostrophe, placed on the line."""

    text: str
    font: ImageFont.FreeTypeFont
    origin: float
    """x of the pen at the start of the word."""
    rise: float
    ink_left: float
    ink_right: float


def _lay_out(
    text: str, face: FontFace, x_height: float, config: SynthConfig, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Ink coverage (uint8, 255 = ink) of the words drawn one by one, and the baseline row.

    Words are drawn separately so gaps, sizes and heights vary the way a hand varies them; the
    letters inside a word stay joined by the font's own shaping (apostrophes excepted).
    """
    size = x_height / face.x_height_em
    gap = rng.uniform(*config.word_gap) * x_height
    words: list[_Word] = []
    cursor, top, bottom = 0.0, 0.0, 0.0
    for text_word in text.split():
        font = truetype(face.path, max(4, round(size * rng.uniform(0.95, 1.05))))
        rise = rng.normal(0.0, 0.08 * x_height)
        pieces = [piece for piece in APOSTROPHES.split(text_word) if piece]
        for index, piece in enumerate(pieces):
            left, upper, right, lower = font.getbbox(piece, anchor="ls")
            words.append(_Word(piece, font, cursor - left, rise, cursor, cursor + right - left))
            space = gap * rng.uniform(0.75, 1.3) if index == len(pieces) - 1 else rng.uniform(0.1, 0.25) * x_height
            cursor += right - left + space
            top, bottom = min(top, upper + rise), max(bottom, lower + rise)
    if not words:
        raise LinescribeError("cannot render an empty text")
    pad = math.ceil(0.3 * x_height) + 2
    width = math.ceil(words[-1].ink_right) + 2 * pad
    baseline = math.ceil(-top) + pad
    image = Image.new("L", (width, baseline + math.ceil(bottom) + pad), 0)
    draw = ImageDraw.Draw(image)
    for word in words:
        draw.text((pad + word.origin, baseline + word.rise), word.text, font=word.font, fill=255, anchor="ls")
    if rng.random() < config.underline_probability:
        first = int(rng.integers(len(words)))
        last = min(len(words), first + int(rng.integers(1, 4))) - 1
        y = baseline + rng.uniform(0.15, 0.4) * x_height
        xs = np.linspace(pad + words[first].ink_left, pad + words[last].ink_right, 8)
        points = [(float(x), float(y + rng.normal(0.0, 0.04 * x_height))) for x in xs]
        draw.line(points, fill=255, width=max(1, round(face.stroke_em * size)), joint="curve")
    return np.asarray(image), baseline


def _set_pen_width(ink: np.ndarray, face: FontFace, size: float, pen: float) -> np.ndarray:
    """Dilate towards the pen width ``pen`` (px), and so that hairlines get at least 1.3 px.

    Heavy fonts are never thinned: erosion or thresholding deletes thin accents, dots and
    apostrophes first, and the image would no longer show its label.
    """
    change = max(pen - face.stroke_em * size, 1.3 - face.hairline_em * size)
    if change < 0.7:
        return ink
    kernel = round(change) + 1
    return cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel)))


def _warp(
    ink: np.ndarray, baseline: int, x_height: float, config: SynthConfig, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Slant, stretch and a baseline that drifts smoothly along the line, in one remap."""
    rows, cols = ink.shape
    shear = math.tan(math.radians(float(np.clip(rng.normal(0.0, config.slant_degrees), -20.0, 20.0))))
    stretch = rng.uniform(*config.stretch)
    amplitude = rng.uniform(0.0, 0.2) * x_height
    wavelength = rng.uniform(6.0, 30.0) * x_height
    phase = rng.uniform(0.0, 2 * math.pi)
    tilt = rng.normal(0.0, 0.01)
    offset = shear * (rows - baseline) if shear > 0 else -shear * baseline
    margin = math.ceil(amplitude + abs(tilt) * cols * stretch / 2) + 1
    out_rows, out_cols = rows + 2 * margin, math.ceil(cols * stretch + abs(shear) * rows) + 2
    xs = np.arange(out_cols, dtype=np.float32)
    ys = np.arange(out_rows, dtype=np.float32)[:, None] - margin
    drift = amplitude * np.sin(2 * math.pi * xs / wavelength + phase) + tilt * (xs - out_cols / 2)
    map_y = ys - drift[None, :].astype(np.float32)
    map_x = (xs[None, :] - offset - shear * (baseline - ys)) / stretch
    warped = cv2.remap(ink, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR, borderValue=0)
    return warped, baseline + margin


def _frame(ink: np.ndarray, baseline: int, config: SynthConfig, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Crop to the line's band (``height`` rows around the baseline) plus side margins.

    Ink that overflows the band (tall capitals, long descenders) widens the crop, which is then
    scaled down to ``height``: as in the real crops, whose line polygons include such strokes.
    """
    height = config.height
    inked_rows = np.flatnonzero(ink.max(axis=1) > 40)
    inked_cols = np.flatnonzero(ink.max(axis=0) > 40)
    if inked_rows.size == 0:
        raise LinescribeError("the font drew no ink for this text")
    above = round(rng.uniform(*config.baseline) * height)
    margin = round(0.03 * height)
    top = min(baseline - above, int(inked_rows[0]) - margin)
    bottom = max(baseline - above + height, int(inked_rows[-1]) + 1 + margin)
    left = int(inked_cols[0]) - round(rng.uniform(0.03, 0.15) * height)
    right = int(inked_cols[-1]) + 1 + round(rng.uniform(0.03, 0.15) * height)
    framed: np.ndarray = np.zeros((bottom - top, right - left), dtype=np.uint8)
    src = ink[max(top, 0) : bottom, max(left, 0) : right]
    framed[max(-top, 0) : max(-top, 0) + src.shape[0], max(-left, 0) : max(-left, 0) + src.shape[1]] = src
    scale = height / framed.shape[0]
    if scale < 1.0:
        framed = cv2.resize(framed, (max(1, round(framed.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)
    return framed, (baseline - top) * scale


def _add_neighbour_strokes(ink: np.ndarray, rng: np.random.Generator) -> None:
    """A few curved strokes entering from the top or bottom edge: descenders of the line above or
    ascenders of the line below, which real crops keep. They stay in the outer 15 % of the rows
    and are only drawn where that edge is free of the line's own ink, so no letter is changed.
    """
    rows, cols = ink.shape
    reach = max(2, round(0.15 * rows))
    width = max(1, round(rows / 40))
    for _ in range(int(rng.integers(1, 4))):
        from_top = rng.random() < 0.5
        ys = np.linspace(0, rng.uniform(0.6, 1.0) * reach, 6)
        xs = rng.uniform(0, cols) + np.cumsum(rng.normal(0.0, 0.25 * reach, 6))
        left, right = max(0, int(xs.min()) - reach), min(cols, int(xs.max()) + reach + 1)
        edge = ink[: 2 * reach] if from_top else ink[rows - 2 * reach :]
        if left >= right or edge[:, left:right].max() > 40:
            continue
        points = np.stack([xs, ys if from_top else rows - 1 - ys], axis=1)
        cv2.polylines(ink, [np.round(points).astype(np.int32)], False, 255, width, cv2.LINE_AA)


def _smooth_noise(shape: tuple[int, int], cells: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a few random values per axis, upscaled smoothly."""
    coarse = rng.standard_normal(cells).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _paper(shape: tuple[int, int], baseline: float, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """White, beige or grey paper with texture, uneven light and sometimes printed ruling."""
    rows, cols = shape
    kind = rng.random()
    level = rng.uniform(238, 255) if kind < 0.35 else rng.uniform(185, 215) if kind < 0.7 else rng.uniform(200, 232)
    paper = level + rng.uniform(1.0, 6.0) * _smooth_noise(shape, (3, max(2, cols // 80)), rng)
    paper += np.linspace(-1.0, 1.0, cols, dtype=np.float32)[None, :] * rng.uniform(-6.0, 6.0)
    if rng.random() < config.ruled_probability:
        rules = np.zeros(shape, dtype=np.uint8)
        y = baseline + rng.uniform(-0.02, 0.1) * rows
        slope = rng.normal(0.0, 0.002) * cols
        cv2.line(
            rules,
            (0, round(y - slope / 2)),
            (cols - 1, round(y + slope / 2)),
            255,
            int(rng.integers(1, 3)),
            cv2.LINE_AA,
        )
        if rng.random() < 0.3:
            rules[:, (np.arange(cols) % int(rng.integers(3, 6))) > 0] = 0
        if rng.random() < 0.25:
            spacing = rng.uniform(0.2, 0.3) * rows
            for x in np.arange(rng.uniform(0, spacing), cols, spacing):
                cv2.line(rules, (round(x), 0), (round(x), rows - 1), 110, 1, cv2.LINE_AA)
            for y_grid in np.arange(y % spacing, rows, spacing):
                cv2.line(rules, (0, round(y_grid)), (cols - 1, round(y_grid)), 110, 1, cv2.LINE_AA)
        paper -= rules.astype(np.float32) * (rng.uniform(0.1, 0.3) * level / 255.0)
    return paper


def _apply_ink(paper: np.ndarray, ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink of one darkness per line, lighter where the pen pressed less."""
    paper_level = float(np.median(paper))
    ink_level = min(rng.uniform(15.0, 110.0), paper_level - 70.0)
    pressure = np.clip(
        1.0 - rng.uniform(0.0, 0.35) * np.abs(_smooth_noise(ink.shape, (2, max(2, ink.shape[1] // 50)), rng)), 0.4, 1.0
    )
    alpha = ink.astype(np.float32) * (pressure / 255.0)
    return paper + alpha * (ink_level - paper)


def _scan(image: np.ndarray, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Blur, sensor noise and JPEG artefacts, as on a scanned page cut into lines."""
    noise = rng.standard_normal(image.shape, dtype=np.float32) * rng.uniform(0.5, 4.0)
    gray: np.ndarray = np.clip(cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0)) + noise, 0, 255).astype(np.uint8)
    if rng.random() < config.jpeg_probability:
        _, encoded = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 92))])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
        if decoded is not None:
            gray = decoded
    return gray
