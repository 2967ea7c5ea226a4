"""What PAGE and ALTO have in common: page XML files whose text lines are polygons on a page image.

Each format only says where its image name, line polygons and texts are (a ``PageLayout``); the
parsing, image lookup, polygon checks and skip reasons live here once. Files are parsed with
defusedxml, so entity bombs and external entities are refused instead of expanded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from linescribe.data.images import IMAGE_SUFFIXES, MAX_PIXELS, crop_box, image_size, level_points, steep_angle
from linescribe.data.readers._common import IMAGE_MISSING, is_file, line_entry, walk
from linescribe.data.sample import Point, Sample, Skipped
from linescribe.errors import DatasetError, ImageError, printable

MAX_COORDINATE = float(MAX_PIXELS)
"""No page we decode has a side longer than this; beyond it a coordinate is garbage (and its
arithmetic could overflow to infinity)."""

ASPECT_TOLERANCE = 0.01
"""A page image whose aspect ratio is the file's within this share is the same page at another
resolution (a reduced download of the scan): the coordinates are scaled to it."""

OUTSIDE_PAGE = "polygon outside the page"

XML_ERRORS = (ParseError, LookupError, ValueError)
"""What parsing a damaged file raises: expat's errors, and for an encoding declared in the file
that Python lacks or cannot give expat (``encoding="UTF-9"``, ``"utf-32"``), LookupError or ValueError."""


@dataclass(frozen=True)
class LayoutLine:
    """One text line as the XML states it; ``points`` is None when it has no usable geometry."""

    id: str
    text: str
    points: tuple[Point, ...] | None
    element: Element | None = field(default=None, compare=False, repr=False)
    """The TextLine element itself, for writing a new text into the document."""


@dataclass(frozen=True)
class PageLayout:
    """What one page file says: the name of its image and its lines."""

    image_name: str
    lines: list[LayoutLine]


ParsePage = Callable[[Path, Element], PageLayout]


def local_name(element: Element) -> str:
    """The tag without its namespace, so every PAGE/ALTO schema version matches ("" for a
    comment or processing instruction kept in the tree)."""
    return element.tag.rpartition("}")[2] if isinstance(element.tag, str) else ""


def children(element: Element, name: str) -> list[Element]:
    return [child for child in element if local_name(child) == name]


def child(element: Element, *path: str) -> Element | None:
    """The first element down the path of local names, or None."""
    for name in path:
        found = children(element, name)
        if not found:
            return None
        element = found[0]
    return element


def text_of(element: Element, *path: str) -> str:
    """The stripped text of the element down the path, "" when it is absent."""
    found = child(element, *path)
    return "" if found is None or found.text is None else found.text.strip()


def descendants(element: Element, name: str) -> Iterator[Element]:
    return (node for node in element.iter() if local_name(node) == name)


def parse_points(text: str) -> tuple[Point, ...] | None:
    """``"x,y x,y ..."`` (PAGE) or ``"x y x y ..."`` (ALTO) as points; None if it is not numbers in pairs."""
    try:
        numbers = [float(value) for value in text.replace(",", " ").split()]
    except ValueError:
        return None
    if len(numbers) % 2:
        return None
    return tuple(zip(numbers[::2], numbers[1::2]))


def line_baseline(element: Element | None) -> tuple[Point, ...]:
    """A TextLine's baseline: PAGE's ``Baseline/@points`` or ALTO's ``@BASELINE`` points; nothing
    for ALTO 2-3's single number, or for coordinates that are not finite or out of range."""
    if element is None:
        return ()
    found = child(element, "Baseline")
    text = element.get("BASELINE", "") if found is None else found.get("points", "")
    points = parse_points(text) or ()
    if not all(math.isfinite(value) and abs(value) <= MAX_COORDINATE for point in points for value in point):
        return ()
    return points


def checked_polygon(points: tuple[Point, ...] | None) -> tuple[Point, ...] | str:
    """The polygon if it can be cropped, else why not."""
    if points is None:
        return "no usable polygon"
    if len(points) < 3:
        return "polygon has fewer than 3 points"
    if not all(math.isfinite(value) and abs(value) <= MAX_COORDINATE for point in points for value in point):
        return "polygon coordinates not finite or out of range"
    twice_area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]))
    if abs(twice_area) < 2.0:
        return "degenerate polygon (no area)"
    return points


def _size_hint(points: tuple[Point, ...], angle: float = 0.0) -> tuple[int, int]:
    """The bounding box's (width, height) once the line is turned level: the crop's size without
    decoding the page."""
    if angle:
        points = tuple(map(tuple, level_points(points, angle)))
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return max(1, math.ceil(max(xs) - min(xs))), max(1, math.ceil(max(ys) - min(ys)))


def xml_files(path: Path, exclude: Path | None = None) -> list[Path]:
    """The file itself, or every .xml below the folder in sorted order, symlinked folders
    included (each real folder once); ``exclude``, a folder below it (where outputs go), is not searched."""
    if path.is_file():
        return [path]
    skipped = os.path.realpath(exclude) if exclude is not None else None
    found = []
    for folder, subfolders, names in walk(path):
        subfolders[:] = sorted(name for name in subfolders if os.path.realpath(os.path.join(folder, name)) != skipped)
        found.extend(Path(folder) / name for name in sorted(names) if name.lower().endswith(".xml"))
    return found


def read_root_name(path: Path) -> tuple[str | None, str]:
    """The root element's local name, read from the start of the file only, and "", or None and
    why the file's start cannot be read."""
    try:
        for _, element in SafeElementTree.iterparse(str(path), events=("start",)):
            return local_name(element), ""
    except (*XML_ERRORS, DefusedXmlException, OSError) as error:
        return None, _why_unparsed(error)
    return None, "malformed XML: no element found"


def root_name(path: Path) -> str | None:
    """The root element's local name, read from the start of the file only; None when it cannot be read."""
    return read_root_name(path)[0]


def sniff_xml(path: Path, root: str) -> bool:
    """An .xml file whose root element is ``root``, or a folder whose first XML files include one."""
    if path.is_file():
        return path.suffix.lower() == ".xml" and root_name(path) == root
    return path.is_dir() and any(root_name(file) == root for file in xml_files(path))


def find_image(xml_path: Path, image_name: str) -> Path | None:
    """The declared image (relative to the XML, or by its bare name when it is a path from another
    machine), else an image with the XML's stem, since exports often rename the image. Looked for
    beside the XML, then in the two folders above it: Transkribus exports put the XML in
    ``doc/page/`` and the image in ``doc/``; OCR-D's ``imageFilename`` is relative to the
    workspace, one level above its ``OCR-D-GT-*/`` folders."""
    candidates = []
    absolute = Path(os.path.abspath(xml_path)).parent  # "x.xml".parent.parent is "." again: up from where it lies
    for folder in (xml_path.parent, absolute.parent, absolute.parent.parent):
        if image_name:
            candidates += [folder / image_name, folder / PureWindowsPath(image_name).name]
        candidates += [folder / f"{xml_path.stem}{suffix}" for suffix in IMAGE_SUFFIXES]
        candidates += [folder / f"{xml_path.stem}{suffix.upper()}" for suffix in IMAGE_SUFFIXES]
    return next((candidate for candidate in candidates if is_file(candidate)), None)


def parse_xml(xml_path: Path, target: TreeBuilder | None = None) -> Element | str:
    """The file's root element, or why it cannot be had. ``target`` builds the tree (one that
    keeps comments, for a document to be written back); entity tricks are refused either way."""
    try:
        parser = DefusedXMLParser(target=target) if target is not None else None
        return SafeElementTree.parse(str(xml_path), parser=parser).getroot()
    except (*XML_ERRORS, DefusedXmlException, OSError) as error:
        return _why_unparsed(error)


def _why_unparsed(error: Exception) -> str:
    """What parsing a file raised, in a few words."""
    if isinstance(error, DefusedXmlException):
        return f"unsafe XML refused ({type(error).__name__})"
    if isinstance(error, OSError):
        return f"unreadable file: {error.strerror or error}"
    return f"malformed XML: {error}"


def declared_page_size(root: Element) -> tuple[float, float] | None:
    """The page's size in the file's coordinates: PAGE's ``Page/@imageWidth``/``@imageHeight``,
    ALTO's ``Layout/Page/@WIDTH``/``@HEIGHT``; None when absent or not a size."""
    if local_name(root) == "alto":
        page, names = child(root, "Layout", "Page"), ("WIDTH", "HEIGHT")
    else:
        page, names = child(root, "Page"), ("imageWidth", "imageHeight")
    if page is None:
        return None
    try:
        width, height = (float(page.get(name, "")) for name in names)
    except ValueError:
        return None
    if not all(math.isfinite(value) and 0 < value <= MAX_COORDINATE for value in (width, height)):
        return None
    return width, height


def coordinate_scale(declared: tuple[float, float] | None, image: tuple[int, int]) -> tuple[float, float] | None:
    """(x, y) factors from the file's coordinates to the pixels of a ``(width, height)`` page
    image: 1 when the file states no size; None when the image has another shape than the page
    the file describes (another page, or a crop), so that no coordinate of it can be trusted."""
    if declared is None:
        return 1.0, 1.0
    scale_x, scale_y = image[0] / declared[0], image[1] / declared[1]
    return (scale_x, scale_y) if abs(scale_x / scale_y - 1) <= ASPECT_TOLERANCE else None


def scaled(points: tuple[Point, ...], scale: tuple[float, float]) -> tuple[Point, ...]:
    """The file's points on the page image, by ``coordinate_scale``'s factors."""
    return points if scale == (1.0, 1.0) else tuple((x * scale[0], y * scale[1]) for x, y in points)


def read_xml_pages(path: Path, root: str, parse_page: ParsePage, dataset: Path | None = None) -> Iterator[Sample | Skipped]:
    """Every line of every page file; a file that cannot be parsed is one Skipped entry naming
    it. Coordinates are scaled to the page image when it has another resolution than the file
    states (a reduced download), and every line of a page whose image has another shape is skipped.
    Page ids are the files' paths below ``dataset`` (the folder read, by default ``path``) without
    suffix, so that ``a.xml`` in two folders gives two pages; a file read alone is its stem."""
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    files = xml_files(path)
    if not files:
        raise DatasetError(f"{path}: no .xml files in this folder")
    top = path if dataset is None else dataset
    in_folder = top.is_dir()
    for xml_path in files:
        relative = xml_path.relative_to(top) if in_folder else Path(xml_path.name)
        page_id = (relative.parent / relative.stem).as_posix()
        document = parse_xml(xml_path)
        if isinstance(document, str):
            yield Skipped(str(xml_path), document)
            continue
        if local_name(document) != root:
            if not in_folder:  # a file named alone that is not this format is an error
                yield Skipped(str(xml_path), f"root element is {local_name(document)}, not {root}")
            # in a folder it is another file: an export's METS or metadata, the other format's copy
            continue
        layout = parse_page(xml_path, document)
        image = find_image(xml_path, layout.image_name)
        geometry = _page_geometry(document, image) if image is not None and layout.lines else None
        for line in layout.lines:
            yield _line_entry(page_id, image, line, geometry)


PageGeometry = tuple[tuple[int, int], tuple[float, float]]
"""The page image's (width, height), and ``coordinate_scale``'s factors to it."""


def _page_geometry(document: Element, image: Path) -> PageGeometry | str:
    """The page image's size, from its header alone, and ``coordinate_scale`` for it; or why its
    lines cannot be cropped."""
    try:
        size = image_size(image)
    except ImageError as error:
        # the reason before ": " labels the skip: one label for every page, not one per image path
        return f"unreadable page image: {printable(image.name)} ({str(error).removeprefix(f'{image}: ')})"
    scale = coordinate_scale(declared := declared_page_size(document), size)
    if scale is None:
        assert declared is not None
        return f"page image of another shape: {printable(image.name)} is {size[0]}x{size[1]}, the file's page {declared[0]:g}x{declared[1]:g}"
    return size, scale


def _clipped(points: tuple[Point, ...], size: tuple[int, int]) -> tuple[Point, ...]:
    """The points moved onto a page of ``(width, height)``, so that a line running off its edge
    is measured by the part the crop holds."""
    width, height = size
    return tuple((min(max(x, 0.0), width), min(max(y, 0.0), height)) for x, y in points)


def _line_entry(page_id: str, image: Path | None, line: LayoutLine, geometry: PageGeometry | str | None) -> Sample | Skipped:
    """The line as a polygon of its page image; id ``<page id>/<line id>``, grouped by page (the
    XML file's path below the folder read, without suffix). A polygon with nothing on the page is
    skipped here, since its crop would fail at every load."""
    line_id = f"{page_id}/{line.id}"
    if image is None or geometry is None:
        return Skipped(line_id, IMAGE_MISSING)
    if isinstance(geometry, str):
        return Skipped(line_id, geometry)
    polygon = checked_polygon(line.points)
    if isinstance(polygon, str):
        return Skipped(line_id, polygon)
    size, scale = geometry
    polygon = scaled(polygon, scale)
    try:
        crop_box(polygon, size)  # what load_sample_image crops
    except ImageError:
        return Skipped(line_id, OUTSIDE_PAGE)
    angle = steep_angle(scaled(line_baseline(line.element), scale))
    size_hint = _size_hint(_clipped(polygon, size), angle)
    return line_entry(line_id, line.text, image, group=page_id, polygon=polygon, angle=angle, size_hint=size_hint)
