"""A read page as plain text, JSON, PAGE XML (2019), ALTO XML (v4) and an overlay picture.

PAGE and ALTO are what Transkribus and eScriptorium import: each found block becomes a text
region and each line a text line with its polygon, baseline, text and confidence, in reading
order; ALTO also gets a box for each word, from where the network wrote its characters. XML is
written with the standard library (we only parse untrusted XML, with defusedxml).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree

import cv2
import numpy as np

from linescribe import __version__
from linescribe.data.images import ImageInput, load_gray
from linescribe.data.sample import Point
from linescribe.errors import ImageError, LinescribeError
from linescribe.files import json_text, write_atomically
from linescribe.layout.page import PageLine, PageResult

PAGE_NAMESPACE = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
PAGE_SCHEMA = f"{PAGE_NAMESPACE} {PAGE_NAMESPACE}/pagecontent.xsd"
ALTO_NAMESPACE = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_SCHEMA = f"{ALTO_NAMESPACE} http://www.loc.gov/standards/alto/v4/alto-4-3.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

OVERLAY_COLOURS = ((220, 60, 30), (30, 60, 220), (30, 150, 30), (170, 40, 170))
"""BGR colours cycled over the lines, so neighbours always differ."""


def to_text(page: PageResult) -> str:
    """One line of text per line found, in reading order, ending with a newline when not empty."""
    return page.text + "\n" if page.lines else ""


def line_record(line: PageLine) -> dict:
    """A page's line as JSON data (the API's ``Line`` in page layout): its reading
    (``Prediction.to_dict``) with the characters' ``[start, end)`` page columns, then where it
    is: polygon and baseline in page pixels, and its block."""
    return {
        **line.prediction.to_dict(),
        "char_positions": [list(position) for position in line.char_positions],
        "polygon": [list(point) for point in line.polygon],
        "baseline": [list(point) for point in line.baseline],
        "block": line.block,
    }


PAGE_JSON_LINE = ("text", "confidence", "block", "polygon", "baseline", "char_positions")
"""What a line of page JSON keeps of its ``line_record``, in this order after its index (the
character and word confidences and the alternatives are the API's only)."""


def _page_json_line(line: PageLine) -> dict:
    record = line_record(line)
    return {"index": line.index, **{key: record[key] for key in PAGE_JSON_LINE}}


def to_json(page: PageResult) -> dict:
    """The page as JSON-ready data: size, skew, text and every line with its geometry (and each
    character's ``[start, end)`` page columns)."""
    return {
        "image": page.source,
        "width": page.width,
        "height": page.height,
        "skew": round(page.skew, 2),
        "text": page.text,
        "lines": [_page_json_line(line) for line in page.lines],
    }


def _blocks(page: PageResult) -> list[tuple[int, list[PageLine]]]:
    """The lines grouped by block, blocks in reading order."""
    grouped: dict[int, list[PageLine]] = {}
    for line in page.lines:
        grouped.setdefault(line.block, []).append(line)
    return sorted(grouped.items())


def _hull(lines: Sequence[PageLine]) -> list[tuple[int, int]]:
    """The convex hull of the lines' polygons: a region outline that contains all of them."""
    points = np.array([point for line in lines for point in line.polygon], dtype=np.int32)
    return [(int(x), int(y)) for x, y in cv2.convexHull(points).reshape(-1, 2)]


def _page_points(points: Iterable[Point]) -> str:
    return " ".join(f"{int(x)},{int(y)}" for x, y in points)


def _alto_points(points: Iterable[Point]) -> str:
    return " ".join(f"{int(x)} {int(y)}" for x, y in points)


def _box(points: Sequence[Point]) -> dict[str, str]:
    """ALTO's HPOS, VPOS, WIDTH and HEIGHT of the points' bounding box."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return {
        "HPOS": str(int(min(xs))),
        "VPOS": str(int(min(ys))),
        "WIDTH": str(int(max(xs) - min(xs))),
        "HEIGHT": str(int(max(ys) - min(ys))),
    }


@dataclass(frozen=True)
class WordBox:
    """A word of a read line and where it is on the page."""

    text: str
    confidence: float
    """Its least sure character's confidence."""
    left: int
    top: int
    right: int
    bottom: int


def _rows_between(polygon: Sequence[Point], left: float, right: float) -> tuple[float, float]:
    """The top and bottom of the part of the polygon between columns ``left`` and ``right``
    (both within its horizontal extent)."""
    ys = [y for x, y in polygon if left <= x <= right]
    for (x0, y0), (x1, y1) in zip(polygon, [*polygon[1:], polygon[0]]):
        for edge in (left, right):
            if (x0 - edge) * (x1 - edge) < 0:  # the side crosses the column
                ys.append(y0 + (y1 - y0) * (edge - x0) / (x1 - x0))
    return min(ys), max(ys)


def word_boxes(line: PageLine) -> list[WordBox] | None:
    """The line's whitespace-separated words with their boxes in page pixels: from the first
    character's start column to the last one's end, as high as the line's polygon is between
    them, never outside the line's box. None when the characters' positions are unknown."""
    prediction = line.prediction
    positions = line.char_positions
    if not prediction.text or len(positions) != len(prediction.text):
        return None
    xs = [x for x, _ in line.polygon]
    first, last = min(xs), max(xs)
    words = []
    for match in re.finditer(r"\S+", prediction.text):
        start, end = match.span()
        left = min(max(positions[start][0], first), last)
        right = min(max(positions[end - 1][1], left), last)
        top, bottom = _rows_between(line.polygon, left, right)
        confidences = prediction.char_confidences[start:end]
        confidence = min(confidences) if len(confidences) == end - start else line.confidence
        words.append(WordBox(match.group(), confidence, int(left), math.floor(top), int(right), math.ceil(bottom)))
    return words


def alto_strings(line: PageLine, tag: Callable[[str], str], string_id: Callable[[int], str]) -> list[ElementTree.Element]:
    """The ALTO elements that hold a read line's text: a ``String`` per word (CONTENT, WC and its
    box) with an ``SP`` between words, or, when the characters' positions are unknown, one String
    with the whole line in the line's box; a line read as empty (or as spaces) gets one String
    with CONTENT="", since ALTO's TextLine needs one. ``tag`` qualifies element names (an
    existing document's namespace); ``string_id`` gives the n-th String's ID."""
    words = word_boxes(line) if line.text.strip() else None
    if words is None:
        content = line.text if line.text.strip() else ""
        attributes = {"ID": string_id(0), "CONTENT": content, "WC": f"{line.confidence:.4f}", **_box(line.polygon)}
        return [ElementTree.Element(tag("String"), attributes)]
    elements: list[ElementTree.Element] = []
    for number, word in enumerate(words):
        if number:
            before = words[number - 1]
            gap = {"HPOS": str(before.right), "VPOS": str(min(before.top, word.top)), "WIDTH": str(max(0, word.left - before.right))}
            elements.append(ElementTree.Element(tag("SP"), gap))
        box = ((word.left, word.top), (word.right, word.bottom))
        attributes = {"ID": string_id(number), "CONTENT": word.text, "WC": f"{word.confidence:.4f}", **_box(box)}
        elements.append(ElementTree.Element(tag("String"), attributes))
    return elements


NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold, even escaped: control characters, lone surrogates, U+FFFE/U+FFFF."""


def make_xml_safe(root: ElementTree.Element) -> None:
    """Replace every character XML cannot hold in the texts, tails and attribute values under
    ``root`` by U+FFFD: a model whose training labels held a control character can write it, an
    image's file name can hold one, and one such character made the whole file unreadable."""
    for node in root.iter():
        if node.text and NOT_XML.search(node.text):
            node.text = NOT_XML.sub("\ufffd", node.text)
        if node.tail and NOT_XML.search(node.tail):
            node.tail = NOT_XML.sub("\ufffd", node.tail)
        if any(NOT_XML.search(value) for value in node.attrib.values()):
            node.attrib = {name: NOT_XML.sub("\ufffd", value) for name, value in node.attrib.items()}


def _serialize(root: ElementTree.Element) -> bytes:
    make_xml_safe(root)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def to_page_xml(page: PageResult) -> bytes:
    """PAGE XML 2019-07-15: a TextRegion per block, a TextLine per line with Coords, Baseline and
    TextEquiv (with its confidence), and the ReadingOrder of the regions. Lines carry their
    position within their region (PAGE's meaning of TextLine/@index) both as @index and as
    Transkribus's ``readingOrder`` custom tag."""
    root = ElementTree.Element("PcGts", {"xmlns": PAGE_NAMESPACE, "xmlns:xsi": XSI, "xsi:schemaLocation": PAGE_SCHEMA})
    metadata = ElementTree.SubElement(root, "Metadata")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    ElementTree.SubElement(metadata, "Creator").text = f"linescribe {__version__}"
    ElementTree.SubElement(metadata, "Created").text = now
    ElementTree.SubElement(metadata, "LastChange").text = now
    page_element = ElementTree.SubElement(
        root, "Page", {"imageFilename": page.image_name, "imageWidth": str(page.width), "imageHeight": str(page.height)}
    )
    blocks = _blocks(page)
    if blocks:
        order = ElementTree.SubElement(
            ElementTree.SubElement(page_element, "ReadingOrder"), "OrderedGroup", {"id": "ro"}
        )
        for position, (block, _) in enumerate(blocks):
            ElementTree.SubElement(order, "RegionRefIndexed", {"index": str(position), "regionRef": f"r{block}"})
    for position, (block, lines) in enumerate(blocks):
        region = ElementTree.SubElement(
            page_element, "TextRegion", {"id": f"r{block}", "custom": f"readingOrder {{index:{position};}}"}
        )
        ElementTree.SubElement(region, "Coords", {"points": _page_points(_hull(lines))})
        for number, line in enumerate(lines):
            element = ElementTree.SubElement(
                region,
                "TextLine",
                {
                    "id": f"r{block}l{line.index}",
                    "custom": f"readingOrder {{index:{number};}}",
                    "index": str(number),
                },
            )
            ElementTree.SubElement(element, "Coords", {"points": _page_points(line.polygon)})
            ElementTree.SubElement(element, "Baseline", {"points": _page_points(line.baseline)})
            equiv = ElementTree.SubElement(element, "TextEquiv", {"conf": f"{line.confidence:.4f}"})
            ElementTree.SubElement(equiv, "Unicode").text = line.text
        ElementTree.SubElement(ElementTree.SubElement(region, "TextEquiv"), "Unicode").text = "\n".join(
            line.text for line in lines
        )
    return _serialize(root)


def to_alto(page: PageResult) -> bytes:
    """ALTO v4 (4.3) in pixels: a TextBlock per block and a TextLine per line, with its polygon
    (Shape/Polygon), BASELINE and its words (``alto_strings``: a String per word with its box and
    confidence, WC)."""
    root = ElementTree.Element("alto", {"xmlns": ALTO_NAMESPACE, "xmlns:xsi": XSI, "xsi:schemaLocation": ALTO_SCHEMA})
    description = ElementTree.SubElement(root, "Description")
    ElementTree.SubElement(description, "MeasurementUnit").text = "pixel"
    source = ElementTree.SubElement(description, "sourceImageInformation")
    ElementTree.SubElement(source, "fileName").text = page.image_name
    layout = ElementTree.SubElement(root, "Layout")
    size = {"WIDTH": str(page.width), "HEIGHT": str(page.height)}
    page_element = ElementTree.SubElement(layout, "Page", {"ID": "page", "PHYSICAL_IMG_NR": "1", **size})
    space = ElementTree.SubElement(page_element, "PrintSpace", {"HPOS": "0", "VPOS": "0", **size})
    for block, lines in _blocks(page):
        outline = _hull(lines)
        element = ElementTree.SubElement(space, "TextBlock", {"ID": f"block{block}", **_box(outline)})
        ElementTree.SubElement(ElementTree.SubElement(element, "Shape"), "Polygon", {"POINTS": _alto_points(outline)})
        for line in lines:
            box = _box(line.polygon)
            text_line = ElementTree.SubElement(
                element, "TextLine", {"ID": f"line{line.index}", **box, "BASELINE": _alto_points(line.baseline)}
            )
            ElementTree.SubElement(
                ElementTree.SubElement(text_line, "Shape"), "Polygon", {"POINTS": _alto_points(line.polygon)}
            )
            text_line.extend(alto_strings(line, str, lambda number, index=line.index: f"string{index}_{number}"))
    return _serialize(root)


def draw_overlay(page: PageResult, image: ImageInput) -> np.ndarray:
    """The page image (H, W, 3) BGR with every line's polygon, baseline and reading-order number."""
    canvas = cv2.cvtColor(load_gray(image), cv2.COLOR_GRAY2BGR)
    if canvas.shape[:2] != (page.height, page.width):
        found = f"{canvas.shape[1]}x{canvas.shape[0]}"
        raise ImageError(f"{page.source}: the overlay image is {found}, the page was {page.width}x{page.height}")
    thickness = max(2, round(max(page.width, page.height) / 800))
    scale = max(0.6, max(page.width, page.height) / 2000)
    for line in page.lines:
        colour = OVERLAY_COLOURS[line.index % len(OVERLAY_COLOURS)]
        polygon = np.array(line.polygon, np.int32)
        cv2.polylines(canvas, [polygon], True, colour, thickness, cv2.LINE_AA)
        cv2.polylines(canvas, [np.array(line.baseline, np.int32)], False, colour, max(1, thickness // 2), cv2.LINE_AA)
        label = str(line.index + 1)
        (width, height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        left, top = int(polygon[:, 0].min()), int(polygon[:, 1].min())
        corner = (max(left - width - 2 * thickness, 0), max(top, 0))
        cv2.rectangle(
            canvas, corner, (corner[0] + width + thickness, corner[1] + height + 2 * thickness), (255, 255, 255), -1
        )
        cv2.putText(
            canvas,
            label,
            (corner[0], corner[1] + height + thickness),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            colour,
            thickness,
            cv2.LINE_AA,
        )
    return canvas


def _json_bytes(page: PageResult) -> bytes:
    """The page's JSON file; a non-UTF-8 image name goes out as ``\\udcXX`` escapes (``json_text``)."""
    return (json_text(to_json(page), indent=1) + "\n").encode("utf-8")


FORMATS: dict[str, tuple[str, Callable[[PageResult], bytes]]] = {
    "text": (".txt", lambda page: to_text(page).encode("utf-8")),
    "json": (".json", _json_bytes),
    "page": (".page.xml", to_page_xml),
    "alto": (".alto.xml", to_alto),
}
"""Output formats by name: the file suffix and the serializer."""

OVERLAY_SUFFIX = ".overlay.png"
PAGE_FORMATS = (*FORMATS, "overlay")
"""Every page output format's name."""


def render_outputs(page: PageResult, formats: Iterable[str], image: ImageInput | None = None) -> dict[str, bytes]:
    """The page's files as ``{suffix: bytes}`` for each format (names in FORMATS, or ``overlay``,
    drawn on ``image``, by default the page's own file): made where the page was read, written
    wherever the caller keeps its outputs (a cluster worker renders, the client writes)."""
    formats = list(formats)
    files = {}
    for name, suffix in zip(formats, output_suffixes(formats)):
        if name == "overlay":
            ok, png = cv2.imencode(".png", draw_overlay(page, page.source if image is None else image))
            if not ok:
                raise ImageError(f"{page.source}: could not encode the overlay as PNG")
            files[suffix] = png.tobytes()
        else:
            files[suffix] = FORMATS[name][1](page)
    return files


def output_suffixes(formats: Iterable[str]) -> list[str]:
    """The file suffixes that ``render_outputs`` gives for these formats; an unknown name is refused."""
    formats = list(formats)
    unknown = [name for name in formats if name not in PAGE_FORMATS]
    if unknown:
        raise LinescribeError(f"unknown page output format {unknown[0]!r} (valid: {', '.join(PAGE_FORMATS)})")
    return [OVERLAY_SUFFIX if name == "overlay" else FORMATS[name][0] for name in formats]


def write_outputs(page: PageResult, stem: Path, formats: Iterable[str], image: ImageInput | None = None) -> list[Path]:
    """Write the page as ``<stem><suffix>`` for each format (see ``render_outputs``). Files are
    replaced atomically; returns them."""
    written = []
    for suffix, content in render_outputs(page, formats, image).items():
        path = Path(f"{stem}{suffix}")
        write_atomically(path, content, durable=False)
        written.append(path)
    return written
