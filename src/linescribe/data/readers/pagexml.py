"""PAGE XML (Transkribus, OCR-D, eScriptorium exports), any schema version.

Lines are ``TextLine/Coords`` polygons on the page image ``Page/@imageFilename``; their text is the
line's own ``TextEquiv/Unicode``, never the words' or the region's.
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
    parse_points,
    read_xml_pages,
    sniff_xml,
    text_of,
)
from linescribe.data.sample import Point, Sample, Skipped

ROOT = "PcGts"


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


def _text(line: Element) -> str:
    """The Unicode of the line's TextEquiv with the lowest @index (the first when none has one)."""
    equivs = children(line, "TextEquiv")
    return text_of(min(equivs, key=_index), "Unicode") if equivs else ""


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
