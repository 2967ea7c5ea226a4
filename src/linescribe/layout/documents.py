"""Reading the lines of an existing segmentation: a PAGE or ALTO file (from Transkribus,
eScriptorium, kraken, OCR-D) whose text lines are recognised and written back into it.

    >>> from linescribe.layout import read_document
    >>> reading = read_document(linescribe.load_model(), "page/0001.xml")
    >>> reading.page.text                      # the lines read, in document order
    >>> Path("out/0001.xml").write_bytes(reading.to_xml())

The file is parsed with defusedxml and its lines are found and cropped as the training readers do
(``linescribe.data.readers``: the same image lookup, polygons and checks); a page image of another
size than the file states is read with the coordinates scaled, if its aspect ratio agrees.

Only the lines' text changes. PAGE (2016 onwards) gets a new ``TextEquiv`` in each line, with
``@conf`` and ``@comments="linescribe"``: the TextEquivs that hold text (a transcription) stay
first and ours gets the next ``@index``, so readers still take the old text as the line's; empty
TextEquivs and ours from an earlier run are replaced. Older PAGE (2013 and before) allows one
TextEquiv per line, so a line that holds text keeps it and is reported. A region's own TextEquiv
(Transkribus writes one) gets its lines' main text again when that changed. ALTO, which has no
alternatives, gets each TextLine's words as ``String`` elements (CONTENT, WC and a box from where
the network wrote the characters) with ``SP`` between them instead of its old words, except that
a line read as empty keeps the words it had (reported). Everything else (regions, attributes,
reading order, comments and processing instructions, also those around the root element,
namespace prefixes) is written as it came; the file is written in UTF-8, without a DOCTYPE.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from xml.etree.ElementTree import PI, Comment, Element, SubElement, TreeBuilder, tostring

from linescribe.data.images import crop_box, crop_line, load_gray, steep_angle
from linescribe.data.readers import alto, pagexml
from linescribe.data.readers._xml import (
    PageLayout,
    checked_polygon,
    child,
    children,
    coordinate_scale,
    declared_page_size,
    find_image,
    line_baseline,
    local_name,
    parse_xml,
    read_root_name,
    scaled,
    text_of,
    xml_files,
)
from linescribe.data.sample import Point
from linescribe.errors import DatasetError, ImageError, printable
from linescribe.layout.outputs import alto_strings, make_xml_safe
from linescribe.layout.page import PageLine, PageResult

if TYPE_CHECKING:
    from linescribe.inference import Recognizer

DOCUMENT_ROOTS = {pagexml.ROOT: "page", alto.ROOT: "alto"}
"""Root element -> format: how a file is recognised, whatever its name or schema version."""

PAGE_BEFORE_TEXT = ("AlternativeImage", "Coords", "Baseline", "Word")
"""What comes before a TextLine's TextEquiv in PAGE's schema."""

XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
"""The ``xml:`` prefix's namespace (``xml:lang``): bound by XML itself, never declared."""

OURS = "linescribe"
"""The ``@comments`` of the TextEquivs we add to PAGE, so that a rerun replaces them instead of
piling up alternatives (PAGE before 2016 has no @comments: there ours cannot be told apart)."""

PAGE_ALTERNATIVES_SINCE = "2016-07-15"
"""The first PAGE schema whose lines may hold several TextEquivs (ordered by @index)."""

Outcome = Literal["main", "alternative", "kept"]
"""What became of a PAGE line's new text: its main text, an alternative after the text it had,
or not written because the schema allows no alternative."""


class _KeepingBuilder(TreeBuilder):
    """A tree builder that keeps comments and processing instructions (those before and after
    the root element apart), and notes the namespace prefixes the file declares, so the document
    can be written back as it came."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self.namespaces: list[tuple[str, str]] = []
        self.before: list[Element] = []
        self.after: list[Element] = []
        self._depth = 0
        self._started = False

    def start_ns(self, prefix: str, uri: str) -> None:
        self.namespaces.append((prefix, uri))

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        self._started = True
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return super().end(tag)

    def comment(self, text: str) -> Element:
        if self._depth:
            return super().comment(text)
        return self._outside(Comment(text))

    def pi(self, target: str, text: str | None = None) -> Element:
        if self._depth:
            return super().pi(target, text)
        return self._outside(PI(target, text))

    def _outside(self, node: Element) -> Element:
        """A comment or processing instruction around the root element, which the tree cannot hold."""
        (self.after if self._started else self.before).append(node)
        return node


@dataclass
class XmlDocument:
    """A parsed PAGE or ALTO file: its tree, the namespace prefixes it declared, its lines."""

    path: Path
    format: str
    """``page`` or ``alto``."""
    root: Element
    namespaces: list[tuple[str, str]]
    layout: PageLayout
    before: list[Element] = field(default_factory=list)
    """Comments and processing instructions before the root element (``<?xml-stylesheet?>``)."""
    after: list[Element] = field(default_factory=list)
    """Those after it."""

    def to_xml(self) -> bytes:
        """The document as XML, with the prefixes it declared (ElementTree alone would rename
        them ns0, ns1, ...)."""
        return _serialize(self.root, self.namespaces, self.before, self.after)


def is_document(path: Path) -> bool:
    """An .xml file whose root element is PAGE's or ALTO's (read from its start only)."""
    return path.suffix.lower() == ".xml" and read_root_name(path)[0] in DOCUMENT_ROOTS


def find_documents(folder: Path, exclude: Path | None = None) -> tuple[list[str], list[str]]:
    """The PAGE and ALTO files below a folder in sorted order, and a problem for each .xml file
    whose start cannot be read (malformed, unsafe, unreadable), which could be a damaged page;
    XML of other kinds (METS, ...) is left out. ``exclude``: a folder not searched (the outputs)."""
    documents, problems = [], []
    for path in xml_files(folder, exclude):
        name, why = read_root_name(path)
        if name in DOCUMENT_ROOTS:
            documents.append(str(path))
        elif name is None:
            problems.append(f"{path}: {why}")
    return documents, problems


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
    return XmlDocument(path, kind, root, builder.namespaces, layout, builder.before, builder.after)


@dataclass(frozen=True)
class DocumentReading:
    """A document whose lines were read: its tree now holds their text."""

    document: XmlDocument
    page: PageResult
    """The lines read, in document order (``index``: the line's position among all the file's lines)."""
    problems: list[str]
    """One message for each line that was not read or whose old text was kept instead (ALTO:
    read as empty), one for the PAGE lines that kept their text because the schema allows no
    alternative, or one for the page when its image is missing or of another shape; the lines
    not written keep the text they had."""

    def to_xml(self) -> bytes:
        return self.document.to_xml()


def read_document(recognizer: Recognizer, document: str | Path | XmlDocument) -> DocumentReading:
    """Crop every line of a PAGE or ALTO file out of its page image, read them in one batch and
    write their text into the document's tree. A line that cannot be cropped (no usable polygon,
    outside the page) is reported in ``problems`` and the others are read; a missing or
    unreadable page image, or one whose aspect ratio is not the page's the file states, leaves
    every line unread. The lines' geometry in ``page`` is the file's (scaled back from a page
    image of another size)."""
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
    declared = declared_page_size(document.root) or (width, height)
    scale = coordinate_scale(declared, (width, height))
    if scale is None:
        problem = (
            f"{path}: page image {printable(image.name)} is {width}x{height} but the file gives "
            f"{declared[0]:g}x{declared[1]:g}, another shape: its {len(lines)} lines were not read"
        )
        return DocumentReading(document, PageResult(str(image), width, height, 0.0, []), [problem] if lines else [])
    scale_x, scale_y = scale
    problems, cropped = [], []
    for index, line in enumerate(lines):
        polygon = checked_polygon(line.points)
        if isinstance(polygon, str):
            problems.append(f"{path} line {printable(line.id)}: {polygon}")
            continue
        on_image = scaled(polygon, scale)
        angle = steep_angle(scaled(line_baseline(line.element), scale))
        try:
            left = crop_box(on_image, (width, height))[0]
            cropped.append((index, polygon, left, angle, crop_line(page, on_image, angle)))
        except ImageError as error:  # the polygon lies outside the page
            problems.append(f"{path} line {printable(line.id)}: {error}")
    predictions = recognizer.predict([crop for *_, crop in cropped]) if cropped else []
    regions: dict[int, int] = {}
    parents = {id(node): parent for parent in document.root.iter() for node in parent}
    read = []
    for (index, polygon, left, angle, _), prediction in zip(cropped, predictions):
        line = lines[index]
        if not prediction.ok:
            problems.append(f"{path} line {printable(line.id)}: {prediction.error}")
            continue
        if angle:  # columns of a line read turned level are no columns of the page
            prediction = dataclasses.replace(prediction, char_positions=())
        region = parents.get(id(line.element))
        read.append(
            PageLine(
                index=index,
                text=prediction.text,
                confidence=prediction.confidence,
                polygon=_whole(polygon),
                baseline=_whole(line_baseline(line.element)),
                block=regions.setdefault(id(region), len(regions)),
                prediction=prediction,
                x_to_page=(1 / scale_x, left / scale_x),
            )
        )
    problems += _fill(document, read, parents)
    size = (round(declared[0]), round(declared[1]))
    return DocumentReading(document, PageResult(str(image), *size, 0.0, read), problems)


def _whole(points: tuple[Point, ...]) -> tuple[Point, ...]:
    """Coordinates that are whole numbers as ints, so JSON gives 105 rather than 105.0."""
    return tuple(tuple(int(v) if float(v).is_integer() else v for v in point) for point in points)


def _fill(document: XmlDocument, lines: list[PageLine], parents: dict[int, Element]) -> list[str]:
    """Write the lines' text into the document's tree (``parents``: each element's parent, by id);
    returns the problems: lines whose old text was kept instead."""
    path, layout_lines = document.path, document.layout.lines
    elements = [layout_lines[line.index].element for line in lines]
    if document.format == "page":
        version = _page_version(document.root)
        alternatives = version >= PAGE_ALTERNATIVES_SINCE
        outcomes = [_fill_page_line(element, line, alternatives) for element, line in zip(elements, lines)]
        _refresh_page_regions([element for element, outcome in zip(elements, outcomes) if outcome == "main"], parents)
        kept = [printable(layout_lines[line.index].id) for line, outcome in zip(lines, outcomes) if outcome == "kept"]
        if not kept:
            return []
        named = ", ".join(kept[:5]) + (", ..." if len(kept) > 5 else "")
        schema = f"PAGE {version}" if version else "PAGE of no known version"
        return [f"{path}: {len(kept)} lines ({named}) already hold text and {schema} allows one TextEquiv per line: they keep it"]
    problems = []
    taken = {node.get("ID") for node in document.root.iter() if node.get("ID")}
    for element, line in zip(elements, lines):
        old_text = layout_lines[line.index].text
        if not line.text.strip() and old_text:
            problems.append(f"{path} line {printable(layout_lines[line.index].id)}: read as empty; its text {printable(old_text[:40])!r} was kept")
            continue
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
    return problems


def _page_version(root: Element) -> str:
    """The date that names the PAGE schema (``2019-07-15``), "" when the namespace has none."""
    found = re.search(r"/pagecontent/(\d{4}-\d{2}-\d{2})}", root.tag)
    return found.group(1) if found else ""


def _fill_page_line(element: Element, line: PageLine, alternatives: bool) -> Outcome:
    """A TextEquiv with the new text and its confidence added to the line. The line's TextEquivs
    that hold text stay before it and it gets the next @index (when they all have one), so they
    stay the line's main text; empty ones and ours from an earlier run make way for it. Where
    the schema allows no ``alternatives``, a line that holds text keeps it alone."""
    qualify = _qualifier(element)
    old = children(element, "TextEquiv")
    kept = [equiv for equiv in old if _has_text(equiv) and equiv.get("comments") != OURS]
    if kept and not alternatives:
        return "kept"
    replaced = [equiv for equiv in old if not any(equiv is other for other in kept)]
    attributes = {"conf": f"{line.confidence:.4f}"}
    indices = [index for index in map(_index, kept) if index is not None]
    if kept and len(indices) == len(kept):
        attributes = {"index": str(max(indices) + 1), **attributes}
    if alternatives:
        attributes["comments"] = OURS
    equiv = Element(qualify("TextEquiv"), attributes)
    unicode = SubElement(equiv, qualify("Unicode"))
    unicode.text = line.text
    if old and len(old[0]):  # laid out as the old ones are
        equiv.text, unicode.tail = old[0].text, old[0][-1].tail
    if kept:
        remaining = [node for node in element if not any(node is gone for gone in replaced)]
        position = next(number for number, node in enumerate(remaining) if node is kept[-1]) + 1
    else:
        position = _position(element, replaced, PAGE_BEFORE_TEXT)
    _replace_children(element, replaced, [equiv], position)
    return "alternative" if kept else "main"


def _has_text(equiv: Element) -> bool:
    return bool(text_of(equiv, "Unicode") or text_of(equiv, "PlainText"))


def _index(equiv: Element) -> int | None:
    try:
        return int(equiv.get("index", ""))
    except ValueError:
        return None


def _main_equiv(element: Element) -> Element | None:
    """The TextEquiv that holds an element's text, as the PAGE reader takes it: the lowest
    @index, those without one after, the first of equals."""
    equivs = children(element, "TextEquiv")
    return min(equivs, key=lambda equiv: (_index(equiv) is None, _index(equiv) or 0), default=None)


def _refresh_page_regions(lines: list[Element], parents: dict[int, Element]) -> None:
    """The regions of lines whose main text is now ours: a region's own TextEquiv (Transkribus
    writes one) made its lines' main text again, so the document does not contradict itself;
    regions without one are left without."""
    regions = {id(parents[id(line)]): parents[id(line)] for line in lines if id(line) in parents}
    for region in regions.values():
        equiv = _main_equiv(region)
        if equiv is None:
            continue
        mains = (_main_equiv(line) for line in children(region, "TextLine"))
        text = "\n".join(text_of(main, "Unicode") if main is not None else "" for main in mains)
        if text == text_of(equiv, "Unicode"):
            continue
        equiv.attrib.pop("conf", None)
        for stale in children(equiv, "PlainText"):
            equiv.remove(stale)
        unicode = child(equiv, "Unicode")
        if unicode is None:
            unicode = SubElement(equiv, _qualifier(region)("Unicode"))
        unicode.text = text


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


def _serialize(root: Element, declared: list[tuple[str, str]], before: list[Element], after: list[Element]) -> bytes:
    """The tree as UTF-8 XML whose namespaces keep the prefixes the file declared (all declared
    on the root element), between the comments and processing instructions that were around it.
    A namespace without a usable prefix gets a new one (ns0, ns1, ...)."""
    root = copy.deepcopy(root)
    make_xml_safe(root)
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
    nodes = [*before, root, *after]
    text = "\n".join(tostring(node, encoding="unicode") for node in nodes)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode("utf-8") + b"\n"
