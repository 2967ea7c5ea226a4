"""Reading a whole page: segment it into lines, recognise every line in one batch, keep the order.

>>> import linescribe
>>> from linescribe.layout import read_page
>>> page = read_page(linescribe.load_model(), "letter.jpg")
>>> print(page.text)                       # one line of text per line found, in reading order
>>> page.lines[0].polygon, page.lines[0].confidence
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from linescribe.data.images import ImageInput, describe, load_gray
from linescribe.files import without_escaped_bytes
from linescribe.layout.segment import PageSegmentation, Polygon, SegmentOptions, segment_page

if TYPE_CHECKING:
    from linescribe.inference import Prediction, Recognizer


@dataclass(frozen=True)
class PageLine:
    """One recognised line of a page."""

    index: int
    """Position in reading order, from 0."""
    text: str
    confidence: float
    polygon: Polygon
    """Outline in page pixels (x, y)."""
    baseline: Polygon
    block: int
    """Index of its text block (column or paragraph) in reading order."""
    prediction: Prediction
    """The recognizer's full answer for the line: character and word confidences, alternatives."""
    x_to_page: tuple[float, float] = (1.0, 0.0)
    """``(scale, offset)``: a column x of the line's image as read lies at page x ``scale * x + offset``."""

    @property
    def char_positions(self) -> tuple[tuple[int, int], ...]:
        """Each character's ``(start, end)`` page columns (the prediction's, moved onto the page)."""
        scale, offset = self.x_to_page
        return tuple(
            (max(0, round(scale * start + offset)), max(1, round(scale * end + offset)))
            for start, end in self.prediction.char_positions
        )


@dataclass(frozen=True)
class PageResult:
    """The lines of one page image in reading order, with the page's size and skew."""

    source: str
    """The image's path, or a description of it when it was not a file."""
    width: int
    height: int
    skew: float
    """Angle of the text lines in the image, degrees, anticlockwise positive."""
    lines: list[PageLine]

    @property
    def text(self) -> str:
        """The page's text, one line per line found."""
        return "\n".join(line.text for line in self.lines)

    @property
    def image_name(self) -> str:
        """The image's file name, as PAGE and ALTO files refer to it ("page.png" without one).

        A name that is not UTF-8 on disk gets U+FFFD for its undecodable bytes (and the writers
        replace the characters XML cannot hold, such as control characters, likewise).
        """
        return without_escaped_bytes("page.png" if self.source.startswith("<") else Path(self.source).name)


def read_page(
    recognizer: Recognizer, image: ImageInput, options: SegmentOptions | None = None, source: str | None = None
) -> PageResult:
    """Find the lines of a page or paragraph image, read them all in one ``recognizer.predict``
    call and return them in reading order. A page without writing gives no lines.

    ``source`` names the image in the result (e.g. an upload's file name); by default its path.
    Raises ImageError naming the file when the image cannot be read.
    """
    if source is None:
        source = str(image) if isinstance(image, (str, Path)) else describe(image)
    return read_segmentation(recognizer, segment_page(load_gray(image), options), source)


def read_segmentation(recognizer: Recognizer, segmentation: PageSegmentation, source: str) -> PageResult:
    """The second half of ``read_page``: read the lines already found, in one batch (a caller
    that must look at the lines before paying for reading them segments first)."""
    crops = [line.image for line in segmentation.lines]
    predictions = recognizer.predict(crops) if crops else []
    lines = [
        PageLine(
            index=index,
            text=prediction.text,
            confidence=prediction.confidence,
            polygon=line.polygon,
            baseline=line.baseline,
            block=line.block,
            prediction=prediction,
            x_to_page=line.x_to_page,
        )
        for index, (line, prediction) in enumerate(zip(segmentation.lines, predictions))
    ]
    return PageResult(source, segmentation.width, segmentation.height, segmentation.skew, lines)
