"""PAGE XML (Transkribus, OCR-D, eScriptorium exports), any schema version.

Lines are ``TextLine/Coords`` polygons on the page image ``Page/@imageFilename``; their text is the
line's own ``TextEquiv`` (its ``Unicode``, else its ``PlainText``). A line without text of its own
(OCR-D keeps some at word level only) has its words' texts joined by spaces, as PAGE's consistency
rule joins them, and a word without, its glyphs'; never the region's text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

from linescribe.data.readers._xml import (
    LayoutLine,
    PageLayout,
    child,
    children,
    descendants,
    local_name,
    parse_points,
    read_xml_pages,
    sniff_xml,
    text_of,
)
from linescribe.data.sample import Point, Sample, Skipped

ROOT = "PcGts"

PARTS = {"TextLine": ("Word", " "), "Word": ("Glyph", "")}
"""The parts whose texts, joined by the separator, make an element's text when it has none."""


def _points(line: Element) -> tuple[Point, ...] | None:
    """``Coords/@points`` (2010 onwards), or the ``Coords/Point`` elements of PAGE 2009."""
    coords = child(line, "Coords")
    if coords is None:
        return None
    if "points" in coords.attrib:
        return parse_points(coords.attrib["points"])
    return parse_points(" ".join(f"{point.get('x', '')},{point.get('y', '')}" for point in children(coords, "Point")))


def _index(equiv: Element) -> float:
    """@index as a number; TextEquivs without one come after those with one."""
    try:
        return int(equiv.get("index", ""))
    except ValueError:
        return math.inf


def _own_text(element: Element) -> str:
    """The Unicode, else the PlainText, of the element's TextEquiv with the lowest @index (the
    first when none has one)."""
    equivs = children(element, "TextEquiv")
    if not equivs:
        return ""
    main = min(equivs, key=_index)
    return text_of(main, "Unicode") or text_of(main, "PlainText")


def _text(element: Element) -> str:
    """The element's own text, else its parts' texts joined; "" when a part has none, since a
    label missing a word would teach the model to leave ink unread."""
    own = _own_text(element)
    if own or local_name(element) not in PARTS:
        return own
    part, separator = PARTS[local_name(element)]
    texts = [_text(found) for found in children(element, part)]
    return separator.join(texts) if texts and all(texts) else ""


def page_layout(xml_path: Path, document: Element) -> PageLayout:
    """The page's image name and every TextLine, wherever its region nests it."""
    page = child(document, "Page")
    if page is None:
        return PageLayout("", [])
    lines = [
        LayoutLine(line.get("id", f"line{number}"), _text(line), _points(line), line)
        for number, line in enumerate(descendants(page, "TextLine"), start=1)
    ]
    return PageLayout(page.get("imageFilename", ""), lines)


def sniff(path: Path) -> bool:
    """A .xml file, or a folder of them, whose root element is PcGts."""
    return sniff_xml(path, ROOT)


def read(path: Path) -> Iterator[Sample | Skipped]:
    """Lines of one PAGE file, or of every PAGE file below a folder."""
    return read_xml_pages(path, ROOT, page_layout)
