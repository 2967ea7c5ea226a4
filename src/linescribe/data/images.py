"""Decoding images safely into 8-bit grayscale arrays, whatever the caller hands us.

Every failure becomes an ImageError that names the file, so a batch job can report the file and
go on; decompression bombs are refused before their pixels are decoded.
"""

from __future__ import annotations

import io
import math
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Optional, Union

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from linescribe.data.sample import Point, Sample
from linescribe.errors import ImageError, printable

ImageInput = Union[str, Path, bytes, bytearray, memoryview, BinaryIO, Image.Image, np.ndarray]

MAX_PIXELS = 80_000_000
"""Largest image we decode: a 600 dpi A3 scan fits, a decompression bomb does not."""

ROTATE_ABOVE = 20.0
"""Degrees: a polygon line whose baseline is steeper is read turned level (marginal notes written
up the page, diagonal notes); a flatter one is read as it lies, as the models were trained."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".jp2")


def describe(source: ImageInput | Sample) -> str:
    """A short name of the source for error messages."""
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape}>"
    if isinstance(source, Sample):
        return str(source.path) if source.polygon is None else f"{source.path} line {source.id}"
    return f"<{type(source).__name__}>"


def _pil_to_gray(image: Image.Image) -> np.ndarray:
    """Grayscale uint8, with EXIF rotation applied and transparency composited on white."""
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return _numbers_to_bytes(np.asarray(image))
    if image.mode == "LAB":
        return np.asarray(image.getchannel("L"), dtype=np.uint8)  # Pillow cannot convert LAB; L* is the lightness
    if image.mode in ("P", "RGBA", "LA", "PA") or "transparency" in image.info:
        return _composited_on_white(image)
    return np.asarray(image.convert("L"), dtype=np.uint8)


BAND_PIXELS = 1 << 20
"""Pixels ``_composited_on_white`` converts at a time (a few MB of RGBA copies)."""


def _composited_on_white(image: Image.Image) -> np.ndarray:
    """Grayscale uint8 of an image with a palette or transparency, composited on white a band
    of rows at a time, so that a small file under the pixel limit cannot cost gigabytes:
    whole-image RGBA copies took about 17 bytes a pixel (1.3 GB for a 9.8 KB palette PNG of
    80 M pixels)."""
    width, height = image.size
    rows = max(1, BAND_PIXELS // width)
    result = np.empty((height, width), np.uint8)
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(top + rows, height)))  # keeps the palette and info
        if band.mode == "P" or "transparency" in band.info:
            # a palette's or a colour key's (PNG tRNS) transparent pixels would otherwise show their
            # colour, often black: as alpha they are composited on white like any other
            band = band.convert("RGBA")
        background = Image.new("RGBA", band.size, (255, 255, 255, 255))
        result[top : top + rows] = np.asarray(Image.alpha_composite(background, band.convert("RGBA")).convert("L"))
    return result


FLOAT_UNIT_RANGE_PEAK = 2.0
"""Float pixels peaking at most this high are taken as [0, 1]: resampling overshoots 1.0 a little."""


def _numbers_to_bytes(array: np.ndarray) -> np.ndarray:
    """uint8 grey levels from pixels of any number type. Floats are [0, 1] (up to
    FLOAT_UNIT_RANGE_PEAK) or [0, 255]; wider integers (16-bit, 12-bit scans stored in 16 bits,
    Pillow's 32-bit mode I) are scaled by their own peak, since their bit depth cannot be told
    from the type: 12 bits scaled as 16 left a line 16 grey levels, read as nothing. A NaN or
    infinite float pixel (a float TIFF's) is refused: it would set the peak and so turn the
    whole image black."""
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError("image has NaN or infinite pixels")
    peak = float(array.max(initial=0))
    if array.dtype.kind == "f":
        return _scaled_to_bytes(array, 255.0 if peak <= FLOAT_UNIT_RANGE_PEAK else 1.0)
    return _scaled_to_bytes(array, 255.0 / peak if peak > 255 else 1.0)


def _scaled_to_bytes(array: np.ndarray, scale: float, rows: int = 512) -> np.ndarray:
    """``array * scale`` clipped to uint8, a band of rows at a time: whole-image float copies of
    a large 16-bit scan cost gigabytes (a 175 KB PNG of 80 M pixels took 2.2 GB)."""
    result = np.empty(array.shape, np.uint8)
    for top in range(0, array.shape[0], rows):
        band = array[top : top + rows].astype(np.float32)
        band *= scale
        np.clip(band, 0, 255, out=band)
        result[top : top + rows] = band
    return result


@contextmanager
def _pillow_failures(name: str, problem: str) -> Iterator[None]:
    """Any exception inside becomes an ImageError naming the source.

    Pillow's format plugins raise whatever their parsers trip over in a hostile file (OSError,
    ValueError, but also TypeError, EOFError, struct.error, ...: tests/data/test_images_edge_cases.py
    fuzzes them), so no list of types is complete. Running out of memory is not the file's fault.
    """
    try:
        yield
    except (ImageError, MemoryError):
        raise
    except Exception as error:  # noqa: BLE001 (see the docstring)
        raise ImageError(f"{name}: {problem} ({error})") from None


EXIF_ORIENTATION = 0x0112
EXIF_QUARTER_TURNS = (5, 6, 7, 8)
"""EXIF orientations whose image ``load_gray`` turns by a quarter (phone photos held upright)."""
EXIF_IN_HEADER = ("JPEG", "MPO", "TIFF", "WEBP")
"""Formats whose EXIF Pillow reads with the header; a PNG's may follow the pixels (reading it
would decode the image, which image_size exists to avoid)."""


def _exif_read_at_open(image: Image.Image) -> bool:
    """Whether the image's EXIF can be read without decoding its pixels: always in the header
    formats, and for a PNG when its eXIf chunk came before the pixels (Pillow writes it there),
    which ``load_gray`` applies just the same."""
    return image.format in EXIF_IN_HEADER or (image.format == "PNG" and "exif" in image.info)


PAGED_FORMATS = ("TIFF", "GIF", "PNG", "WEBP")
"""Formats whose further frames are pages or animation frames. (A phone's MPO JPEG holds a photo
and its preview, a layered PSD opens as its composite: each is one image.)"""


NEW_SUBFILE_TYPE = 254
REDUCED_RESOLUTION = 0x1
"""Bit of a TIFF page's NewSubfileType tag: the page is a reduced-resolution copy of another,
as scanners store a preview after the scan; such a page is not one more page of the document."""


def _tiff_pages(image: Image.Image) -> int:
    """The TIFF's first page and every further page that is not a reduced-resolution copy."""
    pages = 1
    try:
        for index in range(1, image.n_frames):
            image.seek(index)
            pages += not int(image.tag_v2.get(NEW_SUBFILE_TYPE, 0)) & REDUCED_RESOLUTION
    finally:
        image.seek(0)
    return pages


def several_frames(image: Image.Image) -> str | None:
    """Why an opened file is not one image: a multi-page TIFF or an animation, of which only the
    first page would be read without a word. A scanner's reduced-resolution preview after a
    TIFF's page is no second page."""
    if image.format not in PAGED_FORMATS:
        return None
    try:
        if not getattr(image, "is_animated", False):
            return None
        frames = _tiff_pages(image) if image.format == "TIFF" else image.n_frames
    except Exception:  # noqa: BLE001 (a damaged frame chain: its first frame still reads, as it always did)
        return None
    if frames == 1:
        return None
    unit = "pages" if image.format == "TIFF" else "frames"
    return f"a {image.format} of {frames} {unit}, of which only the first would be read: give one {unit[:-1]} per file"


def _open(source: str | Path | bytes, max_pixels: int, decode: bool = True) -> Image.Image:
    """The image, refused from its header alone when it has more than ``max_pixels`` (so bombs
    cost nothing), then decoded unless ``decode`` is False."""
    name = describe(source)
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    except FileNotFoundError:
        raise ImageError(f"{name}: image file not found") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise ImageError(f"{name}: cannot open image ({getattr(error, 'strerror', None) or error})") from None
    # no warnings.catch_warnings() to turn Pillow's bomb warning into an error: it swaps the
    # process-wide filter list and is not thread-safe, and images are opened from several
    # threads; the max_pixels check below refuses large images by itself
    with handle, _pillow_failures(name, "damaged image"):
        try:
            image = Image.open(handle)
        except Image.DecompressionBombError:
            raise ImageError(f"{name}: image has too many pixels (decompression bomb?)") from None
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image file Pillow can read") from None
        width, height = image.size
        if width * height > max_pixels:
            raise ImageError(
                f"{name}: image is {width}x{height} pixels, more than the limit of {max_pixels:,}; downscale it first"
            )
        if width == 0 or height == 0:
            raise ImageError(f"{name}: image has no pixels")
        if problem := several_frames(image):
            raise ImageError(f"{name}: {problem}")
        if decode:
            image.load()
        elif _exif_read_at_open(image):
            image.getexif()  # read (and kept) while the file is open, for image_size's orientation
    return image


def image_size(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of the image ``load_gray`` gives (its EXIF orientation applied), from the
    header alone, without decoding the pixels; an image that load_gray would refuse for its size
    (or its header) is refused here already."""
    image = _open(path, max_pixels, decode=False)
    turned = _exif_read_at_open(image) and image.getexif().get(EXIF_ORIENTATION) in EXIF_QUARTER_TURNS
    width, height = _stored_size(image)
    return (height, width) if turned else (width, height)


TIFF_WIDTH, TIFF_LENGTH = 256, 257


def _stored_size(image: Image.Image) -> tuple[int, int]:
    """The size of the pixels as stored, before any turn: newer Pillows report a TIFF's size
    already turned by its orientation tag (and a PAGE file's page size was found doubly turned),
    so a TIFF's is read from its own tags."""
    if image.format == "TIFF":
        tags = getattr(image, "tag_v2", {})
        if isinstance(tags.get(TIFF_WIDTH), int) and isinstance(tags.get(TIFF_LENGTH), int):
            return tags[TIFF_WIDTH], tags[TIFF_LENGTH]
    return image.size


def load_gray(source: ImageInput, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported input as a 2-D uint8 array, 0 = black ink, 255 = white paper."""
    if isinstance(source, np.ndarray):
        return _array_to_gray(source)
    if isinstance(source, Image.Image):
        if source.width * source.height > max_pixels:
            raise ImageError(f"{describe(source)}: image has more than {max_pixels:,} pixels")
        if source.width == 0 or source.height == 0:
            raise ImageError(f"{describe(source)}: image has no pixels")
        image = source
    elif isinstance(source, (str, Path, bytes)):
        image = _open(source, max_pixels)
    elif isinstance(source, (bytearray, memoryview)):
        image = _open(bytes(source), max_pixels)
    elif hasattr(source, "read"):  # an open file or a BytesIO
        data = source.read()
        if not isinstance(data, bytes):
            raise ImageError(f"{describe(source)}: a file opened as text; open the image with 'rb'")
        image = _open(data, max_pixels)
    else:
        raise ImageError(f"cannot read an image from a {type(source).__name__}")
    # a lazily opened PIL image decodes here, and an image mode Pillow cannot convert fails here
    with _pillow_failures(describe(source), "damaged or unsupported image"):
        return _pil_to_gray(image)


def _array_to_gray(array: np.ndarray) -> np.ndarray:
    """Arrays are taken as grayscale (H, W), RGB (H, W, 3) or RGBA (H, W, 4); floats in [0, 1]."""
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))):
        raise ImageError(f"{describe(array)}: expected a (H, W), (H, W, 3) or (H, W, 4) array")
    if array.size == 0:
        raise ImageError(f"{describe(array)}: image has no pixels")
    if array.dtype.kind not in "biuf":
        raise ImageError(f"{describe(array)}: expected an array of numbers, not {array.dtype}")
    if array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255  # as Pillow's mode "1": True is white
    elif array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ImageError(f"{describe(array)}: image has NaN or infinite pixels")
    elif array.ndim == 3 and array.shape[2] == 4:
        # colour and alpha each by their own range: a 12-bit scan may carry a 16-bit alpha channel
        array = np.concatenate([_numbers_to_bytes(array[:, :, :3]), _numbers_to_bytes(array[:, :, 3:])], axis=2)
    else:
        array = _numbers_to_bytes(array)
    if array.ndim == 2:
        return array
    if array.shape[2] == 1:
        return array[:, :, 0]
    return _pil_to_gray(Image.fromarray(array))  # RGB, or RGBA composited on white like a file's


Stamp = Optional[tuple[int, int]]
"""A file's modification time (ns) and size, so that a page replaced under the same name is read
anew; None when it cannot be had (then the load says why)."""


def _stamp(path: Path) -> Stamp:
    try:
        status = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return None
    return status.st_mtime_ns, status.st_size


@lru_cache(maxsize=2)
def _page(path: Path, stamp: Stamp) -> np.ndarray:
    """The last pages read, since consecutive lines of a page dataset share their page (``stamp``
    keys the cache only)."""
    return load_gray(path)


LINE_CACHE_BYTES = 384 * 2**20
"""Compressed bytes of line crops each process keeps (``LineCache``): some 8000 lines of 300 dpi
scans, whose crops take about 260 KB each, 50 KB compressed."""

LineKey = tuple[Path, Stamp, tuple[Point, ...], float]


def _packed(crop: np.ndarray) -> bytes:
    """The crop's rows as differences from the row above (PNG's Up filter), zlib-compressed for
    speed: about 5x smaller (a crop is mostly even paper), 1 ms to pack, 1 ms to unpack."""
    rows = crop.copy()
    rows[1:] -= crop[:-1]  # uint8 wraps around, and the cumulative sum in _unpacked wraps back
    compressor = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    return compressor.compress(rows) + compressor.flush()


def _unpacked(packed: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.cumsum(np.frombuffer(zlib.decompress(packed), np.uint8).reshape(shape), axis=0, dtype=np.uint8)


class LineCache:
    """Line crops of page datasets by (page, its ``Stamp``, polygon, angle), the least recently
    used dropped first beyond ``max_bytes`` of compressed crops (``_packed``).

    Training draws lines in batches of similar width, which mix pages: with the last two pages
    kept (``_page``), almost every line decoded its whole page again (37 ms a line, against 4 ms
    in page order). A crop kept here costs 1 ms to unpack, and compressed, the lines of hundreds
    of pages fit, so from the second epoch on no page is decoded again (with one loader process; each
    of several keeps the lines it met, up to its own ``max_bytes``). Safe across threads.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._crops: OrderedDict[LineKey, tuple[tuple[int, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._crops)

    def get(self, key: LineKey) -> np.ndarray | None:
        """The crop (a new array the caller may change), or None when it is not kept."""
        with self._lock:
            kept = self._crops.get(key)
            if kept is None:
                return None
            self._crops.move_to_end(key)
        shape, packed = kept
        return _unpacked(packed, shape)

    def put(self, key: LineKey, crop: np.ndarray) -> None:
        """Keep the crop, dropping the least recently used ones beyond ``max_bytes``."""
        packed = _packed(crop)
        if len(packed) > self.max_bytes:
            return
        with self._lock:
            if key in self._crops:
                return
            self._crops[key] = crop.shape, packed
            self.bytes += len(packed)
            while self.bytes > self.max_bytes:
                self.bytes -= len(self._crops.popitem(last=False)[1][1])

    def clear(self) -> None:
        with self._lock:
            self._crops.clear()
            self.bytes = 0


line_cache = LineCache(LINE_CACHE_BYTES)


def crop_box(polygon: tuple[Point, ...], page_size: tuple[int, int], margin: float = 0.05) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of ``crop_polygon``'s crop on a page of ``(width, height)``:
    where the crop's pixels lie on the page."""
    points = np.asarray(polygon, dtype=np.float64)
    width, height = page_size
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    pad = (y1 - y0) * margin
    left, top = max(int(np.floor(x0 - pad)), 0), max(int(np.floor(y0 - pad)), 0)
    right, bottom = min(int(np.ceil(x1 + pad)) + 1, width), min(int(np.ceil(y1 + pad)) + 1, height)
    if right - left < 2 or bottom - top < 2:
        raise ImageError(f"polygon {x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f} lies outside the {width}x{height} page")
    return left, top, right, bottom


def crop_polygon(page: np.ndarray, polygon: tuple[Point, ...], margin: float = 0.05) -> np.ndarray:
    """The polygon's bounding box with a small margin (``crop_box``); pixels outside the polygon
    become paper.

    The paper grey is the 75th percentile of the pixels inside the polygon, so neighbouring lines'
    ascenders and descenders disappear without leaving a white frame on beige paper.
    """
    return _masked_crop(page, polygon, margin)[0]


def _masked_crop(page: np.ndarray, polygon: tuple[Point, ...], margin: float) -> tuple[np.ndarray, int, tuple[int, int]]:
    """``crop_polygon``'s crop, its paper grey and where its top-left corner lies on the page."""
    left, top, right, bottom = crop_box(polygon, (page.shape[1], page.shape[0]), margin)
    crop = page[top:bottom, left:right].copy()
    # Pillow fills only the crop's rows; cv2.fillPoly walks every row the polygon spans, which
    # took seconds for a vertex far off the page (and needs int32 coordinates)
    mask_image = Image.new("L", (crop.shape[1], crop.shape[0]), 0)
    ImageDraw.Draw(mask_image).polygon([(x - left, y - top) for x, y in polygon], fill=255)
    mask = cv2.dilate(np.asarray(mask_image), np.ones((3, 3), np.uint8), iterations=2)
    inside = crop[mask > 0]
    if inside.size == 0:
        return crop, int(np.percentile(crop, 75)), (left, top)
    paper = int(np.percentile(inside, 75))
    crop[mask == 0] = np.uint8(paper)
    return crop, paper, (left, top)


def baseline_angle(baseline: tuple[Point, ...]) -> float:
    """Degrees a baseline, from its first point to its last, turns clockwise from level (image y
    points down): 0 for a level line, -90 for one written bottom to top, 180 upside down."""
    if len(baseline) < 2:
        return 0.0
    (x0, y0), (x1, y1) = baseline[0], baseline[-1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0)) if (x0, y0) != (x1, y1) else 0.0


def steep_angle(baseline: tuple[Point, ...]) -> float:
    """``baseline_angle`` when the line is steep enough to be read turned level, else 0. A level
    baseline whose points run right to left (within ``ROTATE_ABOVE`` of 180) is read as it lies:
    such point orders come from tools far more often than upside-down writing does."""
    angle = baseline_angle(baseline)
    return angle if ROTATE_ABOVE < abs(angle) < 180 - ROTATE_ABOVE else 0.0


def level_points(points: tuple[Point, ...], angle: float) -> np.ndarray:
    """The points turned ``angle`` degrees anticlockwise about the origin, as ``crop_line`` turns
    a line (the same cv2 convention), as an (N, 2) array: where a steep line's outline lies once
    level, up to a shift."""
    return np.asarray(points, dtype=np.float64) @ cv2.getRotationMatrix2D((0.0, 0.0), angle, 1.0)[:, :2].T


def _level_map(crop_size: tuple[int, int], angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine map (2, 3) turning a ``(width, height)`` crop ``angle`` degrees anticlockwise
    onto a canvas that holds all of it, and the canvas's size."""
    width, height = crop_size
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], dtype=np.float64) @ matrix.T
    low, high = corners.min(axis=0), corners.max(axis=0)
    matrix[:, 2] -= low
    return matrix, (int(np.ceil(high[0] - low[0])), int(np.ceil(high[1] - low[1])))


def crop_line(page: np.ndarray, polygon: tuple[Point, ...], angle: float = 0.0, margin: float = 0.05) -> np.ndarray:
    """The line image of a polygon: ``crop_polygon``'s crop, and for a steep line (``angle``, see
    ``steep_angle``) that crop turned so that the baseline is level, then cut again to the turned
    polygon plus the margin (a diagonal note's whole turned box would leave its text tiny)."""
    if not angle:
        return crop_polygon(page, polygon, margin)
    crop, paper, (left, top) = _masked_crop(page, polygon, margin)
    matrix, size = _level_map((crop.shape[1], crop.shape[0]), angle)
    level = cv2.warpAffine(crop, matrix, size, flags=cv2.INTER_LINEAR, borderValue=paper)
    points = np.array([(x - left, y - top, 1.0) for x, y in polygon]) @ matrix.T
    x0, y0, x1, y1 = crop_box(tuple((float(x), float(y)) for x, y in points), size, margin)
    return level[y0:y1, x0:x1]


def load_sample_image(sample: Sample, cache: LineCache | None = None) -> np.ndarray:
    """The sample's line image as grayscale uint8, cropped out of its page (and turned level) where
    needed; such crops are kept in ``cache`` when one is given (training's, which reads every line
    again each epoch: a single pass in page order would only pay for packing them)."""
    if sample.polygon is None:
        return load_gray(sample.path)
    key = (sample.path, _stamp(sample.path), sample.polygon, sample.angle)
    crop = cache.get(key) if cache is not None else None
    if crop is not None:
        return crop
    try:
        crop = crop_line(_page(sample.path, key[1]), sample.polygon, sample.angle)
    except ImageError as error:
        if str(error).startswith("polygon"):
            raise ImageError(f"{sample.path} line {printable(sample.id)}: {error}") from None
        raise
    if cache is not None:
        cache.put(key, crop)
    return crop
