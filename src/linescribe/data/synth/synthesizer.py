"""Synthetic handwritten lines with their transcriptions, for training on more than the real data."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from linescribe.data.synth.fontset import FontFace, load_fonts
from linescribe.data.synth.render import SynthConfig, render_line
from linescribe.data.synth.text import TextSampler
from linescribe.errors import AlphabetError, DatasetError
from linescribe.files import write_atomically

MAX_TEXT_TRIES = 50
DEFAULT_CONFIG = SynthConfig()


class LineSynthesizer:
    """Texts and images of handwritten-looking lines; every image shows exactly its text.

    ``fonts_dir`` replaces the vendored fonts (e.g. /work/shared/fonts for all 129); ``corpus``
    replaces the built-in English and French text; ``alphabet`` restricts the texts to those
    characters. Fonts are only ever used for texts their cmap covers completely.
    """

    def __init__(
        self,
        fonts_dir: Path | None = None,
        corpus: Path | None = None,
        config: SynthConfig = DEFAULT_CONFIG,
        alphabet: Iterable[str] | None = None,
    ) -> None:
        self.config = config
        self.fonts = load_fonts(fonts_dir)
        self.drawable: frozenset[str] = frozenset().union(*(face.chars for face in self.fonts))
        writable = self.drawable | {" "}  # a space is drawn as the gap between words
        allowed = writable if alphabet is None else writable & frozenset(alphabet)
        self.texts = TextSampler(corpus, allowed, config.french_fraction)

    def fonts_for(self, text: str) -> list[FontFace]:
        """The fonts that can draw every character of ``text``."""
        return [face for face in self.fonts if face.covers(text)]

    def sample_text(self, rng: np.random.Generator) -> str:
        """A line of text that at least one font can draw."""
        for _ in range(MAX_TEXT_TRIES):
            text = self.texts.sample(rng)
            if self.fonts_for(text):
                return text
        raise AlphabetError(
            f"no font draws all the characters of {MAX_TEXT_TRIES} sampled texts; add fonts or narrow the alphabet"
        )

    def render(self, text: str, rng: np.random.Generator) -> np.ndarray:
        """``text`` as an (height, W) uint8 image, dark ink on light paper, in a font that covers it."""
        faces = self.fonts_for(text)
        if not faces:
            missing = sorted({char for char in text if not char.isspace()} - self.drawable)
            detail = f"no font has {''.join(missing)!r}" if missing else "no single font has all its characters"
            raise AlphabetError(f"cannot render {text!r}: {detail}")
        weights = np.array([face.weight for face in faces])
        face = faces[int(rng.choice(len(faces), p=weights / weights.sum()))]
        return render_line(text, face, self.config, rng)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        """(image, text): a sampled text drawn in one of the fonts that cover it."""
        text = self.sample_text(rng)
        return self.render(text, rng), text


def write_dataset(out_dir: Path, count: int, synthesizer: LineSynthesizer, seed: int = 0) -> int:
    """Write ``count`` lines as NNNNNN.png + NNNNNN.gt.txt (a gt_folder dataset); returns the count.

    Line i depends only on (seed, i), so a run can be resumed or split across processes.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetError(f"{out_dir}: cannot create the output folder ({error.strerror})") from None
    for index in range(count):
        image, text = synthesizer.sample(np.random.default_rng([seed, index]))
        ok, png = cv2.imencode(".png", image)
        if not ok:
            raise DatasetError(f"{out_dir}: could not encode line {index} as PNG")
        write_atomically(out_dir / f"{index:06d}.png", png.tobytes(), durable=False)
        write_atomically(out_dir / f"{index:06d}.gt.txt", (text + "\n").encode("utf-8"), durable=False)
    return count
