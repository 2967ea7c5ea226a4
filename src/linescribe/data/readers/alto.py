"""ALTO XML (eScriptorium/kraken exports, v2 to v4).

Lines are ``TextLine`` polygons (``Shape/Polygon/@POINTS``, else the HPOS/VPOS/WIDTH/HEIGHT box) on the
page image ``Description/sourceImageInformation/fileName``; their text is the ``String/@CONTENT``s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

from linescribe.data.readers._xml import (
    LayoutLine,
    PageLayout,
    child,
    descendants,
    local_name,
    parse_points,
    read_xml_pages,
    sniff_xml,
    text_of,
    xml_files,
)
from linescribe.data.sample import Point, Sample, Skipped
from linescribe.errors import DatasetError

ROOT = "alto"


class NotPixels(DatasetError):
    """A page whose coordinates are not in pixels: an error for the one document being read,
    one skipped file in a dataset."""

    def __init__(self, xml_path: Path, unit: str) -> None:
        self.reason = f"MeasurementUnit is {unit!r}; only pixel coordinates can be cropped (re-export the ALTO with pixel units)"
        super().__init__(f"{xml_path}: {self.reason}")


def _points(line: Element) -> tuple[Point, ...] | None:
    """The line's polygon, or its bounding box when it has none (older kraken and OCR exports)."""
    polygon = child(line, "Shape", "Polygon")
    if polygon is not None and "POINTS" in polygon.attrib:
        return parse_points(polygon.attrib["POINTS"])
    try:
        left, top, width, height = (float(line.attrib[name]) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
    except (KeyError, ValueError):
        return None
    return (left, top), (left + width, top), (left + width, top + height), (left, top + height)


def _line_text(line: Element) -> str:
    """The line's words in document order: ``String`` contents, a space for each ``SP`` (or
    between two words without one), and ``HYP``, the hyphen written at the end of a line, which is
    ink in the image and so part of the label."""
    text, previous = "", ""
    for element in line:
        kind = local_name(element)
        if kind == "String":
            if previous == "String":
                text += " "
            text += element.get("CONTENT", "")
        elif kind == "SP":
            text += " "
        elif kind == "HYP":
            text += element.get("CONTENT", "-")
        else:
            continue
        previous = kind
    return " ".join(text.split())


def page_layout(xml_path: Path, document: Element) -> PageLayout:
    """The page's lines; refuses units other than pixels, which cannot be cropped without the dpi."""
    unit = text_of(document, "Description", "MeasurementUnit")
    if unit not in ("", "pixel"):
        raise NotPixels(xml_path, unit)
    lines = [
        LayoutLine(
            line.get("ID", f"line{number}"),
            _line_text(line),
            _points(line),
            line,
        )
        for number, line in enumerate(descendants(document, "TextLine"), start=1)
    ]
    return PageLayout(text_of(document, "Description", "sourceImageInformation", "fileName"), lines)


def sniff(path: Path) -> bool:
    """A .xml file, or a folder of them, whose root element is alto."""
    return sniff_xml(path, ROOT)


def read(path: Path) -> Iterator[Sample | Skipped]:
    """Lines of one ALTO file, or of every ALTO file below a folder; a file in units other than
    pixels is one Skipped entry naming its unit, as a malformed file is, so that it costs only
    its own lines."""
    for xml_path in xml_files(path) or [path]:  # none: read_xml_pages says why (no such path, no XML)
        try:
            yield from read_xml_pages(xml_path, ROOT, page_layout, dataset=path)
        except NotPixels as error:  # raised before any line of the file is yielded
            yield Skipped(str(xml_path), error.reason)
