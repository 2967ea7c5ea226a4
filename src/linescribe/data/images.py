"""Decoding images safely into 8-bit grayscale arrays, whatever the caller hands us.

Every failure becomes an ImageError that names the file, so a batch job can report the file and
go on; decompression bombs are refused before their pixels are decoded.
"""

from __future__ import annotations

import io
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from linescribe.data.sample import Point, Sample
from linescribe.errors import ImageError

ImageInput = Union[str, Path, bytes, Image.Image, np.ndarray]

MAX_PIXELS = 80_000_000
"""Largest image we decode: a 600 dpi A3 scan fits, a decompression bomb does not."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".jp2")


def describe(source: ImageInput) -> str:
    """A short name of the source for error messages."""
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape}>"
    return f"<{type(source).__name__}>"


def _pil_to_gray(image: Image.Image) -> np.ndarray:
    """Grayscale uint8, with EXIF rotation applied and transparency composited on white."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() if array.size else 0
        scale = 255.0 / (65535.0 if peak > 255 else max(peak, 1.0))
        return np.clip(array * scale, 0, 255).astype(np.uint8)
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
        return np.clip(array * scale, 0, 255).astype(np.uint8)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _open_pil(source: str | Path | bytes, max_pixels: int) -> Image.Image:
    name = describe(source)
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    except OSError as error:
        raise ImageError(f"{name}: cannot open image ({error.strerror})") from None
    with handle:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(handle)
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(
                        f"{name}: image is {width}x{height} pixels, more than the limit of "
                        f"{max_pixels:,}; downscale it first"
                    )
                image.load()
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(f"{name}: image has too many pixels (decompression bomb?)") from None
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image file Pillow can read") from None
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageError(f"{name}: damaged image ({error})") from None
    if image.width == 0 or image.height == 0:
        raise ImageError(f"{name}: image has no pixels")
    return image


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the header alone, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        raise ImageError(f"{path}: image file not found") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        raise ImageError(f"{path}: not an image file Pillow can read") from None


def load_gray(source: ImageInput, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported input as a 2-D uint8 array, 0 = black ink, 255 = white paper."""
    if isinstance(source, np.ndarray):
        return _array_to_gray(source)
    if isinstance(source, Image.Image):
        if source.width * source.height > max_pixels:
            raise ImageError(f"{describe(source)}: image has more than {max_pixels:,} pixels")
        return _pil_to_gray(source)
    if isinstance(source, (str, Path, bytes)):
        try:
            return _pil_to_gray(_open_pil(source, max_pixels))
        except (OSError, ValueError) as error:
            raise ImageError(f"{describe(source)}: damaged image ({error})") from None
    raise ImageError(f"cannot read an image from a {type(source).__name__}")


def _array_to_gray(array: np.ndarray) -> np.ndarray:
    """Arrays are taken as grayscale (H, W), RGB (H, W, 3) or RGBA (H, W, 4); floats in [0, 1]."""
    if array.size == 0:
        raise ImageError(f"{describe(array)}: image has no pixels")
    if array.dtype.kind == "f":
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    elif array.dtype == np.uint16:
        array = (array / 257).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        return array
    if array.ndim == 3 and array.shape[2] == 1:
        return array[:, :, 0]
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return np.asarray(Image.fromarray(array).convert("RGBA" if array.shape[2] == 4 else "RGB").convert("L"))
    raise ImageError(f"{describe(array)}: expected a (H, W), (H, W, 3) or (H, W, 4) array")


@lru_cache(maxsize=2)
def _page(path: Path) -> np.ndarray:
    """The last pages read, since consecutive lines of a page dataset share their page."""
    return load_gray(path)


def crop_polygon(page: np.ndarray, polygon: tuple[Point, ...], margin: float = 0.05) -> np.ndarray:
    """The polygon's bounding box with a small margin; pixels outside the polygon become paper.

    The paper grey is the 75th percentile of the pixels inside the polygon, so neighbouring lines'
    ascenders and descenders disappear without leaving a white frame on beige paper.
    """
    points = np.asarray(polygon, dtype=np.float64)
    height, width = page.shape
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    pad_y = (y1 - y0) * margin
    pad_x = (y1 - y0) * margin
    left, top = max(int(np.floor(x0 - pad_x)), 0), max(int(np.floor(y0 - pad_y)), 0)
    right, bottom = min(int(np.ceil(x1 + pad_x)) + 1, width), min(int(np.ceil(y1 + pad_y)) + 1, height)
    if right - left < 2 or bottom - top < 2:
        raise ImageError(f"polygon {x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f} lies outside the {width}x{height} page")
    crop = page[top:bottom, left:right].copy()
    mask = np.zeros(crop.shape, dtype=np.uint8)
    shifted = np.round(points - (left, top)).astype(np.int32)
    cv2.fillPoly(mask, [shifted], 255)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
    inside = crop[mask > 0]
    if inside.size == 0:
        return crop
    crop[mask == 0] = np.uint8(np.percentile(inside, 75))
    return crop


def load_sample_image(sample: Sample) -> np.ndarray:
    """The sample's line image as grayscale uint8, cropped out of its page where needed."""
    if sample.polygon is None:
        return load_gray(sample.path)
    try:
        return crop_polygon(_page(sample.path), sample.polygon)
    except ImageError as error:
        if str(error).startswith("polygon"):
            raise ImageError(f"{sample.path} line {sample.id}: {error}") from None
        raise
