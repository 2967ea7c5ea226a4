"""Decoding uploads: accepted formats by content, names made harmless, limits with their codes."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from generated import render_line
from PIL import Image, ImageFile, PngImagePlugin

from linescribe.web.errors import RequestError
from linescribe.web.uploads import (
    MAX_NAME_LENGTH,
    decode_upload,
    decode_uploads,
    safe_name,
)


def encoded(image: Image.Image, format: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **save)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def line() -> Image.Image:
    return render_line("a dog ran far").convert("RGB")


@pytest.mark.parametrize(
    ("format", "save"), [("PNG", {}), ("JPEG", {}), ("WEBP", {}), ("TIFF", {}), ("BMP", {}), ("GIF", {})]
)
def test_accepted_formats_decode_to_the_same_grayscale_line(line, format, save):
    upload = decode_upload(encoded(line, format, **save), "x", max_pixels=10**6)
    assert upload.format == format and upload.image.dtype == np.uint8
    assert upload.image.shape == (line.height, line.width)
    reference = np.asarray(line.convert("L"), dtype=np.int16)
    assert np.abs(upload.image.astype(np.int16) - reference).mean() < 8


def test_transparency_is_put_on_white_paper():
    ink = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    ink.paste((0, 0, 0, 255), (10, 5, 30, 15))
    gray = decode_upload(encoded(ink, "PNG"), "x", max_pixels=10**6).image
    assert gray[0, 0] == 255 and gray[10, 20] == 0


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("line.png", "line.png"),
        ("C:\\scans\\page 1\\line.png", "line.png"),
        ("../../etc/passwd", "passwd"),
        ("a\x00b\x1b[31m\u202ec.png", "ab[31mc.png"),
        ("   ", "image 4"),
        (None, "image 4"),
        ("x" * 500 + ".png", "x" * MAX_NAME_LENGTH),
    ],
)
def test_safe_name(filename, expected):
    assert safe_name(filename, 4) == expected


def test_limits_and_their_status_codes(line):
    data = encoded(line, "PNG")
    pixels = line.width * line.height
    cases = [
        (lambda: decode_upload(b"", "e.png", 10**6), 400, "e.png: the file is empty"),
        (lambda: decode_upload(b"GIF? no", "g.gif", 10**6), 415, "g.gif: not an image"),
        (lambda: decode_upload(b"GIF89a", "g.gif", 10**6), 422, "g.gif: damaged GIF header"),
        (lambda: decode_upload(data[:100], "t.png", 10**6), 422, "t.png: damaged PNG image"),
        (
            lambda: decode_upload(data, "p.png", pixels - 1),
            413,
            f"{line.width}x{line.height} pixels, over the limit of",
        ),
        (lambda: decode_uploads([("a", data), ("b", data)], 1, 10**6), 413, "2 images in one request; the limit is 1"),
        (lambda: decode_uploads([("a", data), ("b", data)], 2, 2 * pixels - 1), 413, "b: image is"),
    ]
    for call, status, message in cases:
        with pytest.raises(RequestError, match=message.replace("[", r"\[")) as refused:
            call()
        assert refused.value.status == status


@pytest.mark.parametrize(
    ("format", "kept"),
    [("PNG", 8), ("PNG", 40), ("JPEG", 20), ("GIF", 6), ("TIFF", 6), ("WEBP", 16), ("BMP", 14), ("JPEG2000", 20)],
)
def test_an_accepted_format_whose_header_is_damaged_is_422_not_415(line, format, kept):
    """Regression: a file cut short in its header was answered 415, "not an image in an accepted
    format"; what begins as an accepted format does is a damaged image of it."""
    with pytest.raises(RequestError, match=f"cut: damaged {format} header$") as refused:
        decode_upload(encoded(line, format)[:kept], "cut", 10**6)
    assert refused.value.status == 422


@pytest.mark.parametrize("data", [b"BM is not a bitmap, just notes", b"BMW,Audi\n1,2\n"])
def test_text_that_begins_with_bmp_letters_is_415_not_a_damaged_bmp(data):
    with pytest.raises(RequestError, match="not an image in an accepted format") as refused:
        decode_upload(data, "notes.txt", 10**6)
    assert refused.value.status == 415


def raising(error: Exception):
    def method(self, *args, **kwargs):
        raise error

    return method


def test_whatever_a_hostile_file_makes_pillow_raise_is_a_4xx(line, monkeypatch):
    """Pillow's parsers raise more than OSError on hostile input (EOFError, struct.error, ...)."""
    data = encoded(line, "PNG")
    with monkeypatch.context() as patch:
        patch.setattr(PngImagePlugin.PngImageFile, "_open", raising(EOFError("bad header")))
        with pytest.raises(RequestError, match="h.png: damaged PNG header") as refused:
            decode_upload(data, "h.png", 10**6)
    assert refused.value.status == 422
    with monkeypatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", raising(struct.error("bad chunk")))
        with pytest.raises(RequestError, match=r"h.png: damaged PNG image \(bad chunk\)") as refused:
            decode_upload(data, "h.png", 10**6)
    assert refused.value.status == 422
