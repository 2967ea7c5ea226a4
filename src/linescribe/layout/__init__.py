"""Pages: find the text lines of a page image, order them for reading, read them, write them out.

    >>> from linescribe.layout import read_page, write_outputs
    >>> page = read_page(linescribe.load_model(), "letter.jpg")
    >>> write_outputs(page, Path("out/letter"), ["text", "json", "page", "alto", "overlay"])

``segment_page`` alone gives the lines' polygons and deskewed crops without reading them.
``read_document`` reads the lines of an existing segmentation instead (a PAGE or ALTO file) and
writes their text back into it.
"""

from linescribe.layout.documents import (
    DocumentReading,
    XmlDocument,
    find_documents,
    is_document,
    open_document,
    read_document,
)
from linescribe.layout.outputs import (
    FORMATS,
    WordBox,
    draw_overlay,
    render_outputs,
    to_alto,
    to_json,
    to_page_xml,
    to_text,
    word_boxes,
    write_outputs,
)
from linescribe.layout.page import PageLine, PageResult, read_page
from linescribe.layout.segment import (
    LineRegion,
    PageSegmentation,
    SegmentOptions,
    segment_page,
)

__all__ = [
    "FORMATS",
    "DocumentReading",
    "LineRegion",
    "PageLine",
    "PageResult",
    "PageSegmentation",
    "SegmentOptions",
    "WordBox",
    "XmlDocument",
    "draw_overlay",
    "render_outputs",
    "find_documents",
    "is_document",
    "open_document",
    "read_document",
    "read_page",
    "segment_page",
    "to_alto",
    "to_json",
    "to_page_xml",
    "to_text",
    "word_boxes",
    "write_outputs",
]
