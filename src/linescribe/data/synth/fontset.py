"""Handwriting fonts: which characters each one really draws, how big its lowercase is and how
thick its strokes are, so every font can be rendered at the same ink size and never draws a
character its label does not have.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from fontTools.ttLib import TTFont, TTLibError
from PIL import Image, ImageDraw, ImageFont

from linescribe.errors import DatasetError

logger = logging.getLogger(__name__)
logging.getLogger("fontTools.ttLib.tables._p_o_s_t").setLevel(logging.ERROR)
"""Google Fonts files have harmless padding in their 'post' table that fontTools warns about."""

VENDORED_FONTS = Path(__file__).parent / "fonts"
FONT_SUFFIXES = (".ttf", ".otf")

STYLE_WEIGHTS = {"cursive": 1.0, "school": 1.0, "print-like": 0.6, "marker": 0.35, "ornate": 0.15}
"""Sampling weight by the ``style`` column of fonts.tsv: real letters are mostly cursive."""

PLAYWRITE_GROUP_WEIGHT = 2.0
"""All Playwrite fonts together weigh as much as two fonts: they come from one design."""

_MEASURE_SIZE = 100


@dataclass(frozen=True)
class FontFace:
    """One font file and what it can draw; ``chars`` is its cmap minus glyphs known to look wrong."""

    path: Path
    family: str
    style: str
    weight: float
    chars: frozenset[str]
    x_height_em: float
    stroke_em: float
    hairline_em: float

    def covers(self, text: str) -> bool:
        """True if every non-space character of ``text`` has a real glyph in this font."""
        return {char for char in set(text) if not char.isspace()} <= self.chars


@lru_cache(maxsize=512)
def truetype(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font with the raqm layout (OpenType ``calt`` joins of cursive fonts).

    Module-level, so a synthesizer sent to DataLoader workers carries no unpicklable fonts.
    """
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)


def _cmap_chars(path: Path) -> frozenset[str]:
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
    except (TTLibError, OSError, KeyError, AssertionError) as error:
        raise DatasetError(f"{path}: not a font file fontTools can read ({error})") from None
    return frozenset(chr(code) for code in cmap)


def _measure(path: Path) -> tuple[float, float, float]:
    """(x-height, typical stroke width, thinnest stroke width) in em, from 'x' and 'nomu' at 100 px.

    Stroke widths are twice the distance-to-paper along the ridges of the ink: the median is the
    pen width, the 10th percentile the hairlines of high-contrast scripts.
    """
    font = truetype(path, _MEASURE_SIZE)
    top = font.getbbox("x", anchor="ls")[1]
    x_height = -top / _MEASURE_SIZE if top < 0 else 0.5
    image = Image.new("L", (4 * _MEASURE_SIZE, 2 * _MEASURE_SIZE), 0)
    ImageDraw.Draw(image).text((_MEASURE_SIZE // 2, int(1.3 * _MEASURE_SIZE)), "nomu", font=font, fill=255, anchor="ls")
    distance = cv2.distanceTransform((np.asarray(image) > 127).astype(np.uint8), cv2.DIST_L2, 5)
    ridge = (distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))
    if not ridge.any():
        return x_height, 0.05, 0.05
    typical, thinnest = np.percentile(2 * distance[ridge], (50, 10)) / _MEASURE_SIZE
    return x_height, float(typical), float(thinnest)


def _read_table(fonts_dir: Path) -> dict[str, dict[str, str]]:
    """Rows of ``fonts.tsv`` (if the folder has one) by file name."""
    table = fonts_dir / "fonts.tsv"
    if not table.is_file():
        return {}
    with open(table, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        if rows.fieldnames is None or "file" not in rows.fieldnames:
            raise DatasetError(f"{table}: no 'file' column in the header")
        return {row["file"]: row for row in rows}


def load_fonts(fonts_dir: Path | None = None) -> list[FontFace]:
    """Every .ttf/.otf in ``fonts_dir`` (default: the vendored fonts), described for sampling.

    An optional ``fonts.tsv`` beside them gives ``family``, ``style`` (sets the sampling weight)
    and ``skip_chars`` (characters whose glyph exists but reads as another character); a table
    without that column (the shared font pack's) takes it from the vendored fonts' table for the
    fonts of the same file name, so that their known false glyphs stay out whatever the folder.
    """
    fonts_dir = VENDORED_FONTS if fonts_dir is None else Path(fonts_dir)
    if not fonts_dir.is_dir():
        raise DatasetError(f"{fonts_dir}: fonts folder not found")
    table = _read_table(fonts_dir)
    vendored = _read_table(VENDORED_FONTS)
    paths = sorted(p for p in fonts_dir.iterdir() if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
    faces = []
    for path in paths:
        row = table.get(path.name, {})
        skip = row["skip_chars"] if "skip_chars" in row else vendored.get(path.name, {}).get("skip_chars")
        try:
            chars = _cmap_chars(path) - set(skip or "")
            x_height, stroke, hairline = _measure(path)
        except (DatasetError, OSError) as error:
            logger.warning("%s; skipping it", error)
            continue
        style = row.get("style") or "unknown"
        faces.append(
            FontFace(
                path,
                row.get("family") or path.stem,
                style,
                STYLE_WEIGHTS.get(style, 1.0),
                chars,
                x_height,
                stroke,
                hairline,
            )
        )
    if not faces:
        raise DatasetError(f"{fonts_dir}: no readable .ttf or .otf font in this folder")
    return _group_playwrite(faces)


def _group_playwrite(faces: list[FontFace]) -> list[FontFace]:
    playwrite = [face for face in faces if face.family.startswith("Playwrite")]
    if len(playwrite) <= PLAYWRITE_GROUP_WEIGHT:
        return faces
    share = PLAYWRITE_GROUP_WEIGHT / len(playwrite)
    return [replace(f, weight=f.weight * share) if f in playwrite else f for f in faces]
