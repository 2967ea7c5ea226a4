"""Reading the lines of an existing segmentation: a PAGE or ALTO file (from Transkribus,
eScriptorium, kraken, OCR-D) whose text lines are recognised and written back into it.

    >>> from linescribe.layout import read_document
    >>> reading = read_document(linescribe.load_model(), "page/0001.xml")
    >>> reading.page.text                      # the lines read, in document order
    >>> Path("out/0001.xml").write_bytes(reading.to_xml())

The file is parsed with defusedxml and its lines are found and cropped as the training readers do
(``linescribe.data.readers``: the same image lookup, polygons and checks). Only the lines' text
changes: PAGE gets each TextLine's ``TextEquiv`` (with ``@conf``) and, where a region already had
one, the region's joined text; ALTO gets each TextLine's words as ``String`` elements (CONTENT,
WC and a box from where the network wrote the characters) with ``SP`` between them. Everything
else (regions, attributes, reading order, comments, namespace prefixes) is written as it came.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element, SubElement, TreeBuilder, tostring

from linescribe.data.images import crop_box, crop_polygon, load_gray
from linescribe.data.readers import alto, pagexml
from linescribe.data.readers._xml import (
    PageLayout,
    checked_polygon,
    child,
    children,
    find_image,
    local_name,
    parse_points,
    parse_xml,
    root_name,
    text_of,
    xml_files,
)
from linescribe.data.sample import Point
from linescribe.errors import DatasetError, ImageError, printable
from linescribe.layout.outputs import alto_strings
from linescribe.layout.page import PageLine, PageResult

if TYPE_CHECKING:
    from linescribe.inference import Recognizer

DOCUMENT_ROOTS = {pagexml.ROOT: "page", alto.ROOT: "alto"}
"""Root element -> format: how a file is recognised, whatever its name or schema version."""

PAGE_BEFORE_TEXT = ("AlternativeImage", "Coords", "Baseline", "Word")
"""What comes before a TextLine's TextEquiv in PAGE's schema."""

XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
"""The ``xml:`` prefix's namespace (``xml:lang``): bound by XML itself, never declared."""


class _KeepingBuilder(TreeBuilder):
    """A tree builder that keeps comments and processing instructions, and notes the namespace
    prefixes the file declares, so the document can be written back as it came."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self.namespaces: list[tuple[str, str]] = []

    def start_ns(self, prefix: str, uri: str) -> None:
        self.namespaces.append((prefix, uri))


@dataclass
class XmlDocument:
    """A parsed PAGE or ALTO file: its tree, the namespace prefixes it declared, its lines."""

    path: Path
    format: str
    """``page`` or ``alto``."""
    root: Element
    namespaces: list[tuple[str, str]]
    layout: PageLayout

    def to_xml(self) -> bytes:
        """The document as XML, with the prefixes it declared (ElementTree alone would rename
        them ns0, ns1, ...)."""
        return _serialize(self.root, self.namespaces)


def is_document(path: Path) -> bool:
    """An .xml file whose root element is PAGE's or ALTO's (read from its start only)."""
    return path.suffix.lower() == ".xml" and root_name(path) in DOCUMENT_ROOTS


def find_documents(folder: Path) -> list[str]:
    """The PAGE and ALTO files below a folder, in sorted order; other XML (METS, ...) is left out."""
    return [str(path) for path in xml_files(folder) if is_document(path)]


def open_document(path: str | Path) -> XmlDocument:
    """The file parsed (defusedxml: entity tricks are refused) with its lines; DatasetError
    naming the file when it is not a readable PAGE or ALTO file."""
    path = Path(path)
    builder = _KeepingBuilder()
    root = parse_xml(path, builder)
    if isinstance(root, str):
        raise DatasetError(f"{path}: {root}")
    kind = DOCUMENT_ROOTS.get(local_name(root))
    if kind is None:
        raise DatasetError(f"{path}: root element is {printable(local_name(root))}, not PcGts (PAGE) or alto (ALTO)")
    layout = (pagexml if kind == "page" else alto).page_layout(path, root)
    return XmlDocument(path, kind, root, builder.namespaces, layout)


@dataclass(frozen=True)
class DocumentReading:
    """A document whose lines were read: its tree now holds their text."""

    document: XmlDocument
    page: PageResult
    """The lines read, in document order (``index``: the line's position among all the file's lines)."""
    problems: list[str]
    """One message for each line that was not read (or one for the page when its image is
    missing); those lines keep the text they had."""

    def to_xml(self) -> bytes:
        return self.document.to_xml()


def read_document(recognizer: Recognizer, document: str | Path | XmlDocument) -> DocumentReading:
    """Crop every line of a PAGE or ALTO file out of its page image, read them in one batch and
    write their text into the document's tree. A line that cannot be cropped (no usable polygon,
    outside the page) is reported in ``problems`` and the others are read; a missing or
    unreadable page image leaves every line unread."""
    if not isinstance(document, XmlDocument):
        document = open_document(document)
    path, lines = document.path, document.layout.lines
    image = find_image(path, document.layout.image_name)
    if image is None:
        named = f"page image {printable(document.layout.image_name)!r}" if document.layout.image_name else "no page image named, and none"
        problem = f"{path}: {named} not found beside it or in the two folders above; its {len(lines)} lines were not read"
        return DocumentReading(document, PageResult(str(path), 0, 0, 0.0, []), [problem] if lines else [])
    try:
        page = load_gray(image)
    except ImageError as error:
        return DocumentReading(document, PageResult(str(image), 0, 0, 0.0, []), [f"{path}: {error}"])
    height, width = page.shape
    problems, cropped = [], []
    for index, line in enumerate(lines):
        polygon = checked_polygon(line.points)
        if isinstance(polygon, str):
            problems.append(f"{path} line {printable(line.id)}: {polygon}")
            continue
        try:
            left = crop_box(polygon, (width, height))[0]
            cropped.append((index, polygon, left, crop_polygon(page, polygon)))
        except ImageError as error:  # the polygon lies outside the page
            problems.append(f"{path} line {printable(line.id)}: {error}")
    predictions = recognizer.predict([crop for *_, crop in cropped]) if cropped else []
    regions: dict[int, int] = {}
    parents = {id(node): parent for parent in document.root.iter() for node in parent}
    read = []
    for (index, polygon, left, _), prediction in zip(cropped, predictions):
        line = lines[index]
        if not prediction.ok:
            problems.append(f"{path} line {printable(line.id)}: {prediction.error}")
            continue
        region = parents.get(id(line.element))
        read.append(
            PageLine(
                index=index,
                text=prediction.text,
                confidence=prediction.confidence,
                polygon=_whole(polygon),
                baseline=_whole(_baseline(document.format, line.element)),
                block=regions.setdefault(id(region), len(regions)),
                prediction=prediction,
                x_to_page=(1.0, float(left)),
            )
        )
    _fill(document, read, parents)
    return DocumentReading(document, PageResult(str(image), width, height, 0.0, read), problems)


def _whole(points: tuple[Point, ...]) -> tuple[Point, ...]:
    """Coordinates that are whole numbers as ints, so JSON gives 105 rather than 105.0."""
    return tuple(tuple(int(v) if float(v).is_integer() else v for v in point) for point in points)


def _baseline(kind: str, element: Element) -> tuple[Point, ...]:
    """PAGE's ``Baseline/@points`` or ALTO's ``@BASELINE`` points (nothing for ALTO 2-3's single number)."""
    if kind == "page":
        found = child(element, "Baseline")
        text = "" if found is None else found.get("points", "")
    else:
        text = element.get("BASELINE", "")
    return parse_points(text) or ()


def _fill(document: XmlDocument, lines: list[PageLine], parents: dict[int, Element]) -> None:
    """Write the lines' text into the document's tree (``parents``: each element's parent, by id)."""
    elements = [document.layout.lines[line.index].element for line in lines]
    if document.format == "page":
        for element, line in zip(elements, lines):
            _fill_page_line(element, line)
        _refresh_page_regions(elements, parents)
        return
    taken = {node.get("ID") for node in document.root.iter() if node.get("ID")}
    for element, line in zip(elements, lines):
        base = element.get("ID") or f"line{line.index}"

        def string_id(number: int, base: str = base) -> str:
            candidate = f"{base}_{number}"
            while candidate in taken:
                candidate += "_"
            taken.add(candidate)
            return candidate

        old = [node for node in element if local_name(node) in ("String", "SP", "HYP")]
        position = _position(element, old, ("Shape",))
        _replace_children(element, old, alto_strings(line, _qualifier(element), string_id), position)


def _fill_page_line(element: Element, line: PageLine) -> None:
    """The line's TextEquivs replaced by one holding the new text and its confidence."""
    qualify = _qualifier(element)
    equiv = Element(qualify("TextEquiv"), {"conf": f"{line.confidence:.4f}"})
    unicode = SubElement(equiv, qualify("Unicode"))
    unicode.text = line.text
    old = children(element, "TextEquiv")
    if old and len(old[0]):  # laid out as the old one was
        equiv.text, unicode.tail = old[0].text, old[0][-1].tail
    _replace_children(element, old, [equiv], _position(element, old, PAGE_BEFORE_TEXT))


def _refresh_page_regions(lines: list[Element], parents: dict[int, Element]) -> None:
    """A region's own TextEquiv (Transkribus writes one) made its lines' text again, so the
    document does not contradict itself; regions without one are left without."""
    regions = {id(parents[id(line)]): parents[id(line)] for line in lines if id(line) in parents}
    for region in regions.values():
        equivs = children(region, "TextEquiv")
        if not equivs:
            continue
        line_equivs = (children(line, "TextEquiv") for line in children(region, "TextLine"))
        texts = [text_of(found[0], "Unicode") if found else "" for found in line_equivs]
        equiv = equivs[0]
        equiv.attrib.pop("conf", None)
        unicode = child(equiv, "Unicode")
        if unicode is None:
            unicode = SubElement(equiv, _qualifier(region)("Unicode"))
        unicode.text = "\n".join(texts)


def _qualifier(element: Element) -> Callable[[str], str]:
    """Names in the element's namespace: ``{uri}name``, or plain names when it has none."""
    namespace = element.tag[: element.tag.index("}") + 1] if element.tag.startswith("{") else ""
    return lambda name: namespace + name


def _position(parent: Element, old: list[Element], before: tuple[str, ...]) -> int:
    """Where new children go: in the place of the first of ``old`` (children in document order,
    to be removed), else after the last child named in ``before`` (what the schema puts first)."""
    nodes = list(parent)
    if old:
        return next(number for number, node in enumerate(nodes) if node is old[0])
    return max((number + 1 for number, node in enumerate(nodes) if local_name(node) in before), default=0)


def _replace_children(parent: Element, old: list[Element], new: list[Element], position: int) -> None:
    """Remove ``old`` from ``parent`` and insert ``new`` at ``position`` (counted without
    ``old``), indented as the parent's other children are."""
    before = list(parent)
    inner = parent.text if before and not (parent.text or "").strip() else None
    closing = before[-1].tail if before else None
    for node in old:
        parent.remove(node)
    for offset, node in enumerate(new):
        parent.insert(position + offset, node)
    if inner is None:
        return
    after = list(parent)
    for number, node in enumerate(after):
        last = number == len(after) - 1
        if last or any(node is added for added in new) or (before and node is before[-1]):
            node.tail = closing if last else inner


def _serialize(root: Element, declared: list[tuple[str, str]]) -> bytes:
    """The tree as UTF-8 XML whose namespaces keep the prefixes the file declared (all declared
    on the root element). A namespace without a usable prefix gets a new one (ns0, ns1, ...)."""
    root = copy.deepcopy(root)
    prefixes: dict[str, str] = {XML_NAMESPACE: "xml"}
    uris: dict[str, str] = {}
    for prefix, uri in declared:
        if uri not in prefixes and prefix not in uris and prefix != "xml":
            prefixes[uri], uris[prefix] = prefix, uri
    if "" in uris and any(isinstance(node.tag, str) and not node.tag.startswith("{") for node in root.iter()):
        del prefixes[uris.pop("")]  # elements in no namespace: nothing may be in the default one
    attribute_prefixes = {uri: prefix for uri, prefix in prefixes.items() if prefix}

    def new_prefix(uri: str) -> str:
        prefix = next(f"ns{n}" for n in range(len(uris) + 1) if f"ns{n}" not in uris)
        uris[prefix] = uri
        return prefix

    def qualified(name: str, attribute: bool) -> str:
        if not name.startswith("{"):
            return name
        uri, _, local = name[1:].partition("}")
        table = attribute_prefixes if attribute else prefixes
        if uri not in table:  # attributes cannot use the default namespace
            table[uri] = new_prefix(uri)
            if not attribute:
                attribute_prefixes.setdefault(uri, table[uri])
        return f"{table[uri]}:{local}" if table[uri] else local

    for node in root.iter():
        if isinstance(node.tag, str):
            node.tag = qualified(node.tag, attribute=False)
        node.attrib = {qualified(name, attribute=True): value for name, value in node.attrib.items()}
    declarations = {("xmlns:" + prefix if prefix else "xmlns"): uri for prefix, uri in uris.items()}
    root.attrib = {**declarations, **{k: v for k, v in root.attrib.items() if k not in declarations}}
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode("utf-8") + b"\n"
