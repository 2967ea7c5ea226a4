"""Uploaded images, decoded in memory and refused with an HTTP status that says why.

The type is decided by the bytes (Pillow's signature checks, limited to the raster formats we
read), never by the file name or the client's Content-Type. Pixel counts are checked from the
header before any pixel is decoded, so a decompression bomb costs nothing.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass

import numpy as np
from PIL import Image

from linescribe.data.images import describe, load_gray, several_frames
from linescribe.errors import ImageError
from linescribe.web.errors import RequestError

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF", "JPEG2000")
"""Pillow format names an upload may have: no vector, PDF or EPS (EPS would start Ghostscript)."""

SIGNATURES = (
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG2000"),
    (b"\xff\x4f\xff\x51", "JPEG2000"),
)
"""How files of the accepted formats begin (WebP: ``RIFF``, a size, ``WEBP``): bytes that begin so
but whose header Pillow cannot read are a damaged image (422), not some other file (415)."""

MAX_NAME_LENGTH = 120


@dataclass(frozen=True)
class Upload:
    """One decoded upload: ``image`` (H, W) uint8, 0 = ink, 255 = paper."""

    name: str
    image: np.ndarray
    format: str

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def safe_name(filename: str | None, position: int) -> str:
    """The client's file name reduced to something harmless to echo back: its last path
    component, without control or format characters, at most MAX_NAME_LENGTH characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C").strip()
    return name[:MAX_NAME_LENGTH] or f"image {position}"


def _signature_format(data: bytes) -> str | None:
    """The accepted format whose signature the bytes begin with, if any. BMP's two letters begin
    plenty of text files too: a BMP also has its four reserved zero bytes (6-9)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(b"BM"):
        return "BMP" if data[6:10] == b"\0\0\0\0" else None
    return next((name for signature, name in SIGNATURES if data.startswith(signature)), None)


def decode_upload(data: bytes, name: str, max_pixels: int, pixels_before: int = 0) -> Upload:
    """The upload's pixels as grayscale; RequestError 400 (empty), 415 (not an accepted image),
    413 (more than ``max_pixels``, counting the ``pixels_before`` of the request's earlier images)
    or 422 (an accepted format, but damaged)."""
    if not data:
        raise RequestError(400, f"{name}: the file is empty")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise RequestError(413, f"{name}: image has too many pixels (decompression bomb?)") from None
    except MemoryError:
        raise
    except Exception:  # Pillow's parsers raise whatever a hostile header trips them into, not only OSError
        claimed = _signature_format(data)
        if claimed:
            raise RequestError(422, f"{name}: damaged {claimed} header") from None
        raise RequestError(415, f"{name}: not an image in an accepted format ({', '.join(ACCEPTED_FORMATS)})") from None
    width, height = image.size
    if width == 0 or height == 0:
        raise RequestError(422, f"{name}: image has no pixels")
    if pixels_before + width * height > max_pixels:
        together = " for the request's images together" if pixels_before else ""
        raise RequestError(
            413,
            f"{name}: image is {width}x{height} pixels, over the limit of {max_pixels:,}{together}; downscale it first",
        )
    if problem := several_frames(image):
        raise RequestError(422, f"{name}: {problem}")
    try:
        image.load()
    except MemoryError:
        raise
    except Exception as error:  # likewise for the pixel data
        raise RequestError(422, f"{name}: damaged {image.format} image ({error})") from None
    try:
        gray = load_gray(image, max_pixels)
    except ImageError as error:  # NaN pixels, a mode Pillow cannot convert: the reason, under the upload's name
        raise RequestError(422, f"{name}: {str(error).removeprefix(describe(image) + ': ')}") from None
    return Upload(name, gray, str(image.format))


def decode_uploads(files: list[tuple[str | None, bytes]], max_images: int, max_pixels: int) -> list[Upload]:
    """(client file name, bytes) pairs -> Uploads; ``max_pixels`` bounds the request's images
    together, so many small bombs cost no more than one."""
    if len(files) > max_images:
        raise RequestError(413, f"{len(files)} images in one request; the limit is {max_images}")
    uploads: list[Upload] = []
    pixels = 0
    for position, (filename, data) in enumerate(files, start=1):
        upload = decode_upload(data, safe_name(filename, position), max_pixels, pixels)
        pixels += upload.width * upload.height
        uploads.append(upload)
    return uploads
