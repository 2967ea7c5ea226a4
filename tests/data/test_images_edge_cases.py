"""The image loader on every kind of awkward image: each gets a defined result, either a 2-D uint8
line (ink dark, paper light, the right way up) or an ImageError whose one-line message names the
file. Decompression bombs are refused from their header, before any pixel is decoded.

Every input is built here with Pillow, OpenCV and NumPy; no binary fixtures.
"""

from __future__ import annotations

import io
import resource
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fuzz_inputs import assert_one_line_naming, check_image, hang_guard, mutations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst
from PIL import Image, TiffImagePlugin

from linescribe.data import images
from linescribe.data.images import MAX_PIXELS, image_size, load_gray
from linescribe.errors import ImageError

WIDTH, HEIGHT = 100, 20
INK = (slice(8, 13), slice(5, 30))
"""Where the test line has its ink: a dark bar at the left end, so a wrong rotation shows."""
PAPER = (slice(0, 4), slice(50, 100))


@pytest.fixture(autouse=True)
def _no_hangs(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    with hang_guard(capsys, 120):
        yield


def line_array(ink: int = 0, paper: int = 255) -> np.ndarray:
    """The test line as grey levels: paper with an ink bar at its left end."""
    array = np.full((HEIGHT, WIDTH), paper, np.uint8)
    array[INK] = ink
    return array


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def assert_reads_as_line(gray: np.ndarray) -> None:
    """Horizontal, dark ink where the bar is, light paper elsewhere."""
    assert gray.dtype == np.uint8 and gray.shape == (HEIGHT, WIDTH)
    assert gray[INK].mean() < 60, "the ink is gone or faded"
    assert gray[PAPER].mean() > 200, "the paper is not light"


def load_file(tmp_path: Path, name: str, data: bytes) -> np.ndarray:
    """load_gray on a file with that name and content; the same result from the bytes."""
    path = tmp_path / name
    path.write_bytes(data)
    gray = load_gray(path)
    assert np.array_equal(gray, load_gray(data))
    return gray


def refusal(source: Path | bytes, **options: object) -> str:
    """The ImageError message for the source, checked to be one line naming it."""
    with pytest.raises(ImageError) as raised:
        load_gray(source, **options)
    message = str(raised.value)
    assert_one_line_naming(message, source if isinstance(source, Path) else f"<{len(source)} bytes>")
    return message


# --- damaged files -----------------------------------------------------------------------------


def test_zero_bytes(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    assert refusal(tmp_path / "empty.png").endswith("empty.png: not an image file Pillow can read")
    assert refusal(b"") == "<0 bytes>: not an image file Pillow can read"
    with pytest.raises(ImageError, match="empty.png: not an image file"):
        image_size(tmp_path / "empty.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF", "GIF", "BMP"])
@pytest.mark.parametrize("kept", [0.1, 0.5, 0.9])
def test_truncated_files(tmp_path: Path, fmt: str, kept: float) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (40, 120), dtype=np.uint8)  # incompressible: long files
    data = encoded(Image.fromarray(noise), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: int(len(data) * kept)])
    assert any(problem in refusal(path) for problem in (": damaged image (", ": not an image file Pillow can read"))


def test_missing_unreadable_and_odd_paths(tmp_path: Path) -> None:
    assert refusal(tmp_path / "nowhere.png").endswith("nowhere.png: image file not found")
    assert refusal(tmp_path).endswith(": cannot open image (Is a directory)")
    assert refusal(tmp_path / ("x" * 5000 + ".png")).endswith(": cannot open image (File name too long)")
    with pytest.raises(ImageError, match="cannot open image .*null byte"):
        load_gray(str(tmp_path / "nul\x00.png"))
    (tmp_path / "notes.png").write_text("not an image", encoding="utf-8")
    assert refusal(tmp_path / "notes.png").endswith("notes.png: not an image file Pillow can read")


def tiff_entries() -> tuple[bytearray, dict[int, int]]:
    """The test line as a little-endian TIFF, and tag -> offset of its 12-byte IFD entry
    (tag, field type, count, value), for tests to rewrite."""
    data = bytearray(encoded(Image.fromarray(line_array()), "TIFF"))
    ifd = struct.unpack_from("<I", data, 4)[0]
    offsets = [ifd + 2 + 12 * index for index in range(struct.unpack_from("<H", data, ifd)[0])]
    return data, {struct.unpack_from("<H", data, offset)[0]: offset for offset in offsets}


@pytest.mark.parametrize("field_type", [2, 5, 7, 12])  # ASCII, RATIONAL, UNDEFINED, DOUBLE
def test_tiff_strip_offsets_of_the_wrong_type(tmp_path: Path, field_type: int) -> None:
    """Regression, found by fuzzing: Pillow raised TypeError from load(), which escaped load_gray,
    whose net caught only OSError and ValueError."""
    data, entries = tiff_entries()
    struct.pack_into("<H", data, entries[273] + 2, field_type)  # StripOffsets
    path = tmp_path / "strips.tif"
    path.write_bytes(data)
    assert ": damaged image (" in refusal(path)


# --- formats, modes and depths -----------------------------------------------------------------


def test_wrong_extension_is_read_by_content(tmp_path: Path) -> None:
    png = encoded(Image.fromarray(line_array()), "PNG")
    assert_reads_as_line(load_file(tmp_path, "line.jpg", png))
    assert_reads_as_line(load_file(tmp_path, "line.png", encoded(Image.fromarray(line_array()), "JPEG")))
    assert_reads_as_line(load_file(tmp_path, "line", png))


def test_a_multi_page_tiff_or_an_animation_is_refused_not_read_as_its_first_page(tmp_path: Path) -> None:
    """Only the first page was read, silently: a scanned document lost the rest."""
    line = Image.fromarray(np.full((20, 60), 255, dtype=np.uint8))
    for name, unit in (("scan.tif", "TIFF of 3 pages"), ("moving.gif", "GIF of 3 frames")):
        line.save(tmp_path / name, save_all=True, append_images=[line.point(lambda v: v - i) for i in (40, 80)])
        with pytest.raises(ImageError, match=f"{name}: a {unit}, of which only the first would be read"):
            load_gray(tmp_path / name)
    line.save(tmp_path / "one.tif")
    assert load_gray(tmp_path / "one.tif").shape == (20, 60)
    # a damaged frame chain after a whole first frame reads that frame, as before the check
    line.save(tmp_path / "cut.gif")
    (tmp_path / "cut.gif").write_bytes((tmp_path / "cut.gif").read_bytes()[:-1] + b",\x00\x00")
    assert load_gray(tmp_path / "cut.gif").shape == (20, 60)


def tiff_pages(path: Path, *pages: tuple[Image.Image, int]) -> Path:
    """A TIFF of the (page, NewSubfileType) pairs, each page with its own tag."""
    with path.open("w+b") as handle, TiffImagePlugin.AppendingTiffWriter(handle, True) as writer:
        for page, subfile_type in pages:
            page.save(writer, format="TIFF", tiffinfo={images.NEW_SUBFILE_TYPE: subfile_type})
            writer.newFrame()
    return path


def test_a_tiff_with_a_reduced_resolution_preview_reads_its_page(tmp_path: Path) -> None:
    """Scanners store a preview after the scan, marked reduced-resolution (NewSubfileType bit 0):
    the file was refused whole as a multi-page TIFF."""
    scan, preview = Image.fromarray(line_array()), Image.new("L", (WIDTH // 4, HEIGHT // 4), 128)
    path = tiff_pages(tmp_path / "scan.tif", (scan, 0), (preview, images.REDUCED_RESOLUTION))
    assert_reads_as_line(load_gray(path))
    assert image_size(path) == (WIDTH, HEIGHT)
    path = tiff_pages(tmp_path / "two.tif", (scan, 0), (preview, images.REDUCED_RESOLUTION), (scan, 0))
    with pytest.raises(ImageError, match="two.tif: a TIFF of 2 pages, of which only the first would be read"):
        load_gray(path)
    path = tiff_pages(tmp_path / "mask.tif", (scan, 0), (scan, 0x4))  # a transparency mask is a page of its own
    with pytest.raises(ImageError, match="mask.tif: a TIFF of 2 pages"):
        load_gray(path)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grey(tmp_path: Path, fmt: str) -> None:
    wide = line_array().astype(np.uint16) * 257  # 0 and 65535
    wide[0, 0] = 32768
    image = Image.fromarray(wide)
    assert image.mode == "I;16"
    gray = load_file(tmp_path, f"line16.{fmt.lower()}", encoded(image, fmt))
    assert_reads_as_line(gray)
    assert gray[0, 0] == 127  # scaled by 255/65535, not clipped at 255


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_12_bit_grey_stored_in_16_bits(tmp_path: Path, fmt: str) -> None:
    """Scanners store 12-bit grey in 16-bit files: scaled as 16 bits, paper (4095) became grey
    level 15 and the line read as nothing."""
    twelve = (line_array().astype(np.uint16) * 4095) // 255
    gray = load_file(tmp_path, f"line12.{fmt.lower()}", encoded(Image.fromarray(twelve), fmt))
    assert_reads_as_line(gray)
    assert_reads_as_line(load_gray(twelve))


@pytest.mark.parametrize(
    "array",
    [
        line_array().astype(np.int32) * 257,  # 16-bit values in a wide integer array: were clipped to white
        line_array().astype(np.float32) / 255 * 1.0001,  # [0, 1] floats a resampler overshot: were read as 0-255
        (line_array().astype(np.float64) / 255 * 1.0001)[:, :, None].repeat(3, axis=2),
        line_array().astype(np.float32),  # 0-255 floats
    ],
    ids=["int32 16-bit", "float overshoot", "float RGB overshoot", "float 0-255"],
)
def test_arrays_of_other_number_types_read_as_the_line(array: np.ndarray) -> None:
    assert_reads_as_line(load_gray(array))


def test_a_12_bit_rgba_array_with_a_16_bit_alpha_channel_reads_as_the_line() -> None:
    """The colour was scaled by the alpha channel's peak (65535): the line came out near black."""
    twelve = (line_array().astype(np.uint16) * 4095) // 255
    rgba = np.stack([twelve, twelve, twelve, np.full_like(twelve, 65535)], axis=2)
    assert_reads_as_line(load_gray(rgba))


def test_a_large_16_bit_scan_costs_no_float_copies_of_itself() -> None:
    """Regression: 16-bit pixels were scaled in float64 copies of the whole image; a 175 KB PNG
    of 80 M pixels took 2.2 GB (a cheap way to exhaust a server)."""
    import tracemalloc

    image = Image.fromarray(np.full((2_500, 4_000), 1000, np.uint16))
    tracemalloc.start()
    try:
        gray = load_gray(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert gray.shape == (2_500, 4_000) and gray[0, 0] == 255  # scaled by its own peak
    assert peak < 6 * gray.size  # measured 4.6 bytes a pixel (the 16-bit copy, the result, a band); was 24


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_16_bit_rgb(tmp_path: Path, suffix: str) -> None:
    rgb16 = np.dstack([line_array().astype(np.uint16) * 257] * 3)
    rgb16[INK] = (0, 0, 40_000)  # dark red ink, in OpenCV's BGR order
    ok, data = cv2.imencode(suffix, rgb16)
    assert ok and Image.open(io.BytesIO(data.tobytes())).mode == "RGB"  # Pillow keeps the high bytes
    gray = load_file(tmp_path, f"rgb16{suffix}", data.tobytes())
    assert_reads_as_line(gray)
    assert gray[INK].mean() == pytest.approx(0.299 * 40_000 / 257, abs=2)


def _palette_line(ink_index: int, paper_index: int) -> Image.Image:
    """A P image whose palette entry 0 is black, 1 dark grey ink, 2 white."""
    image = Image.fromarray(np.where(line_array() == 0, ink_index, paper_index).astype(np.uint8), mode="P")
    image.putpalette([0, 0, 0, 40, 40, 40, 255, 255, 255] + [0, 0, 0] * 253)
    return image


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_without_transparency(tmp_path: Path, fmt: str) -> None:
    assert_reads_as_line(load_file(tmp_path, f"p.{fmt.lower()}", encoded(_palette_line(1, 2), fmt)))


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_a_transparent_black_background(tmp_path: Path, fmt: str) -> None:
    """Paper is palette entry 0 (black), marked transparent: it must read as white paper."""
    data = encoded(_palette_line(1, 0), fmt, transparency=0)
    assert Image.open(io.BytesIO(data)).info["transparency"] == 0
    assert_reads_as_line(load_file(tmp_path, f"pt.{fmt.lower()}", data))


@pytest.mark.parametrize(
    ("fmt", "mode"), [("PNG", "RGBA"), ("PNG", "LA"), ("TIFF", "RGBA"), ("TIFF", "LA"), ("WEBP", "RGBA")]
)
def test_alpha_on_a_transparent_black_background_keeps_the_ink(tmp_path: Path, fmt: str, mode: str) -> None:
    """Everything is black; only alpha says where the ink is. Dropping alpha would lose the ink,
    so transparency is composited on white paper."""
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[..., 3][INK] = 255
    image = Image.fromarray(rgba).convert(mode)
    options = {"lossless": True} if fmt == "WEBP" else {}
    assert_reads_as_line(load_file(tmp_path, f"alpha.{fmt.lower()}", encoded(image, fmt, **options)))


def test_half_transparent_ink_is_lighter_but_there(tmp_path: Path) -> None:
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[..., 3][INK] = 128
    gray = load_file(tmp_path, "half.png", encoded(Image.fromarray(rgba), "PNG"))
    assert 120 <= gray[INK].mean() <= 135 and gray[PAPER].mean() == 255


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_colour_key_transparency_becomes_white_paper(tmp_path: Path, mode: str) -> None:
    """Regression: a PNG tRNS colour key (black paper marked transparent) read as black paper,
    which inverted the line for the contrast stretch."""
    image = Image.fromarray(line_array(ink=40, paper=0)).convert(mode)
    data = encoded(image, "PNG", transparency=0 if mode == "L" else (0, 0, 0))
    gray = load_file(tmp_path, f"key_{mode}.png", data)
    assert gray[PAPER].mean() == 255 and gray[INK].mean() == 40


def _composited_whole(image: Image.Image) -> np.ndarray:
    """How load_gray composited transparency before it did so in bands: the whole image at once."""
    if image.mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _random_images() -> Iterator[tuple[str, Image.Image]]:
    """Images with a palette, alpha or a colour key, random pixels (every palette entry used)."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (HEIGHT, WIDTH, 4), dtype=np.uint8)
    palette = Image.fromarray(pixels[..., 0], mode="P")
    palette.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
    yield "P", palette
    yield "P, one index transparent", Image.open(io.BytesIO(encoded(palette, "PNG", transparency=7)))
    alphas = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
    yield "P, an alpha per index", Image.open(io.BytesIO(encoded(palette, "PNG", transparency=alphas)))
    yield "GIF, one index transparent", Image.open(io.BytesIO(encoded(palette, "GIF", transparency=7)))
    yield "PA", Image.merge("PA", (palette, Image.fromarray(pixels[..., 1])))
    yield "RGBA", Image.fromarray(pixels)
    yield "LA", Image.fromarray(pixels[..., :2])
    key = pixels[..., :3].copy()
    key[::3] = (10, 20, 30)
    yield "RGB key", Image.open(io.BytesIO(encoded(Image.fromarray(key), "PNG", transparency=(10, 20, 30))))
    yield "L key", Image.open(io.BytesIO(encoded(Image.fromarray(key[..., 0]), "PNG", transparency=10)))


@pytest.mark.parametrize("band_pixels", [1, 3 * WIDTH + 5, 1 << 20])  # a row, bands of 3 rows and a last of 2, all
def test_transparency_composited_in_bands_reads_as_composited_whole(monkeypatch: pytest.MonkeyPatch, band_pixels: int) -> None:
    monkeypatch.setattr(images, "BAND_PIXELS", band_pixels)
    for name, image in _random_images():
        assert np.array_equal(load_gray(image), _composited_whole(image)), name


def test_a_large_transparent_palette_image_costs_no_rgba_copies_of_itself() -> None:
    """Regression: a palette image with a transparent entry was converted to RGBA and composited
    whole, about 17 bytes a pixel: a 9.8 KB PNG of 80 M pixels took 1.3 GB. Measured in a fresh
    process, as Pillow's own allocations escape tracemalloc."""
    script = """
import resource
from PIL import Image
from linescribe.data.images import load_gray
image = Image.new("P", (4000, 4000), 1)
image.putpalette([0, 0, 0] * 256)
image.info["transparency"] = 1
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
gray = load_gray(image)
assert (gray == 255).all()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 / gray.size)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 6  # measured 3.2 bytes a pixel (the EXIF-turned copy, the result, a band); was 16


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(tmp_path: Path, fmt: str) -> None:
    cmyk = Image.fromarray(line_array()).convert("CMYK")
    data = encoded(cmyk, fmt)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    assert_reads_as_line(load_file(tmp_path, f"cmyk.{fmt.lower()}", data))


def test_lab_tiff_reads_its_lightness(tmp_path: Path) -> None:
    """Regression: Pillow cannot convert LAB to L; load_gray said "damaged" for a valid LAB TIFF."""
    neutral = Image.new("L", (WIDTH, HEIGHT), 128)  # a* and b* of grey
    lab = Image.merge("LAB", [Image.fromarray(line_array()), neutral, neutral])
    assert_reads_as_line(load_file(tmp_path, "lab.tif", encoded(lab, "TIFF")))


@pytest.mark.parametrize(
    ("orientation", "stored"),
    [(1, None), (3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)],
)
@pytest.mark.parametrize(("fmt", "options"), [("JPEG", {"quality": 95}), ("PNG", {}), ("TIFF", {})])
def test_exif_rotation_is_applied(
    tmp_path: Path, orientation: int, stored: Image.Transpose | None, fmt: str, options: dict[str, int]
) -> None:
    """A phone photo stores the pixels as the sensor saw them and says in EXIF how to turn them:
    the line must come out horizontal with its ink bar on the left. (A PNG's eXIf chunk: Pillow
    writes it before the pixels; image_size left it out and gave the sensor's size. Newer Pillows
    report a TIFF's size already turned: image_size turned it back.)"""
    line = Image.fromarray(line_array())
    pixels = line if stored is None else line.transpose(stored)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encoded(pixels, fmt, exif=exif, **options)
    if orientation in (6, 8) and fmt != "TIFF":
        assert Image.open(io.BytesIO(data)).size == (HEIGHT, WIDTH)
    name = f"exif{orientation}.{fmt.lower()}"
    assert_reads_as_line(load_file(tmp_path, name, data))
    assert image_size(tmp_path / name) == (WIDTH, HEIGHT)  # the size of what is read, from the header


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"])
def test_one_pixel(tmp_path: Path, fmt: str) -> None:
    gray = load_file(tmp_path, f"dot.{fmt.lower()}", encoded(Image.new("L", (1, 1), 0), fmt))
    assert gray.shape == (1, 1) and gray[0, 0] < 20


def test_a_line_100000_pixels_long(tmp_path: Path) -> None:
    long_line = np.full((10, 100_000), 255, np.uint8)
    long_line[4:6, 10:99_990] = 0
    gray = load_file(tmp_path, "long.png", encoded(Image.fromarray(long_line), "PNG"))
    assert gray.shape == (10, 100_000) and np.array_equal(gray, long_line)


@pytest.mark.parametrize(
    "mode", ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "PA", "RGBX", "RGBa",
             "I;16", "I;16L", "I;16B", "I;16N"],
)  # fmt: skip
def test_every_pillow_mode_in_memory(mode: str) -> None:
    gray = load_gray(Image.new(mode, (4, 3)))
    assert gray.dtype == np.uint8 and gray.shape == (3, 4)


def test_a_mode_pillow_cannot_convert_is_an_image_error() -> None:
    with pytest.raises(ImageError, match=r"<Image>: damaged or unsupported image \(conversion from La to L"):
        load_gray(Image.new("La", (4, 3)))


def test_a_lazily_opened_damaged_image_is_an_image_error() -> None:
    """A PIL image straight from Image.open decodes inside load_gray: its errors too are ImageErrors."""
    data = encoded(Image.fromarray(line_array()), "PNG")
    with pytest.raises(ImageError, match=r"<PngImageFile>: damaged or unsupported image \(image file is truncated"):
        load_gray(Image.open(io.BytesIO(data[:-30])))


# --- decompression bombs -----------------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A complete, tiny PNG that claims width x height grey pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small valid JPEG with the size in its SOF0 header rewritten."""
    data = bytearray(encoded(Image.fromarray(line_array()), "JPEG"))
    struct.pack_into(">HH", data, data.index(b"\xff\xc0") + 5, height, width)
    return bytes(data)


def tiff_claiming(width: int, height: int) -> bytes:
    """A small valid TIFF with its ImageWidth and ImageLength (SHORT values) rewritten."""
    data, entries = tiff_entries()
    struct.pack_into("<H", data, entries[256] + 8, width)
    struct.pack_into("<H", data, entries[257] + 8, height)
    return bytes(data)


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param("bomb.png", png_header(100_000, 100_000), id="png"),  # 10 gigapixels in 70 bytes
        pytest.param("bomb.jpg", jpeg_claiming(65_535, 65_535), id="jpeg"),
        pytest.param("bomb.tif", tiff_claiming(65_535, 65_535), id="tiff"),
    ],
)
def test_gigapixel_bombs_are_refused_from_the_header(tmp_path: Path, name: str, data: bytes) -> None:
    """Regression for image_size (the size check training runs first): Pillow's
    DecompressionBombError escaped it."""
    path = tmp_path / name
    path.write_bytes(data)
    memory_before, started = peak_memory_mb(), time.perf_counter()
    assert refusal(path).endswith(f"{name}: image has too many pixels (decompression bomb?)")
    with pytest.raises(ImageError, match=f"{name}: image has too many pixels"):
        image_size(path)
    assert time.perf_counter() - started < 0.5
    assert peak_memory_mb() - memory_before < 100, "the bomb's pixels were allocated"


def test_just_over_our_limit_says_so_and_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(png_header(10_000, 8_500))  # 85 M pixels: under Pillow's own bomb warning
    expected = f"scan.png: image is 10000x8500 pixels, more than the limit of {MAX_PIXELS:,}; downscale it first"
    assert refusal(path).endswith(expected)
    with pytest.raises(ImageError, match="more than the limit"):
        image_size(path)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_between_pillows_bomb_warning_and_error_our_limit_decides(tmp_path: Path) -> None:
    """95 M pixels: Pillow warns (over 89 M) but does not refuse (under 179 M). The answer is
    the caller's max_pixels, not the process-wide warning filters (which are not thread-safe
    to change, and images are opened from several threads)."""
    path = tmp_path / "scan.png"
    path.write_bytes(png_header(10_000, 9_500))
    assert refusal(path).endswith(f"scan.png: image is 10000x9500 pixels, more than the limit of {MAX_PIXELS:,}; downscale it first")
    assert image_size(path, max_pixels=100_000_000) == (10_000, 9_500)


def test_max_pixels_is_the_callers_limit(tmp_path: Path) -> None:
    data = encoded(Image.fromarray(line_array()), "PNG")
    assert "more than the limit of 1,000" in refusal(data, max_pixels=1_000)
    with pytest.raises(ImageError, match="more than 1,000 pixels"):
        load_gray(Image.fromarray(line_array()), max_pixels=1_000)
    assert load_gray(data, max_pixels=WIDTH * HEIGHT).shape == (HEIGHT, WIDTH)


# --- arrays ------------------------------------------------------------------------------------


def test_arrays_of_the_wrong_kind_are_image_errors() -> None:
    with pytest.raises(ImageError, match=r"<array \(1, 2\)>: expected an array of numbers, not <U1"):
        load_gray(np.array([["a", "b"]]))
    with pytest.raises(ImageError, match="expected an array of numbers, not complex128"):
        load_gray(np.ones((2, 2), complex))
    with pytest.raises(ImageError, match="expected an array of numbers, not object"):
        load_gray(np.array([[1, "a"]], dtype=object))
    with pytest.raises(ImageError, match="image has NaN or infinite pixels"):
        load_gray(np.full((2, 2), np.nan))
    with pytest.raises(ImageError, match=r"<array \(2, 2\)>: image has NaN or infinite pixels"):
        load_gray(np.array([[0.0, 1.0], [np.inf, 0.5]]))
    assert load_gray(np.array([[True, False]])).tolist() == [[255, 0]]  # as Pillow's mode "1"


def test_an_rgba_array_is_composited_on_white_like_a_file() -> None:
    """Regression: RGBA arrays lost their alpha, so ink on a transparent black background vanished."""
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[..., 3][INK] = 255
    assert_reads_as_line(load_gray(rgba))


dtypes = st.one_of(
    npst.boolean_dtypes(), npst.integer_dtypes(), npst.unsigned_integer_dtypes(), npst.floating_dtypes(),
    npst.complex_number_dtypes(), npst.datetime64_dtypes(), npst.unicode_string_dtypes(max_len=2),
)  # fmt: skip


@settings(max_examples=150, deadline=1000, derandomize=True)
@given(array=npst.arrays(dtypes, npst.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)))
def test_any_array_is_a_gray_image_or_an_image_error(array: np.ndarray) -> None:
    try:
        gray = load_gray(array)
    except ImageError as error:
        assert_one_line_naming(str(error), f"<array {array.shape}>")
    else:
        assert gray.dtype == np.uint8 and gray.shape == array.shape[:2]


# --- fuzzing -----------------------------------------------------------------------------------


SEED_MODES = {
    "PNG": ("1", "L", "P", "RGB", "RGBA", "LA"),
    "TIFF": ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK"),
    "BMP": ("1", "L", "P", "RGB"),
    "GIF": ("L", "P"),
    "WEBP": ("RGB", "RGBA"),
    "JPEG": ("L", "RGB", "CMYK"),
    "JPEG2000": ("L", "RGB", "RGBA"),
}
"""The image modes each format stores, for the fuzzing seeds."""


def _seed_images() -> list[bytes]:
    """The test line in each format and mode the loader meets, EXIF and transparency included."""
    line = Image.fromarray(line_array())
    exif = Image.Exif()
    exif[0x0112] = 6
    seeds = [encoded(line.convert(mode), fmt) for fmt, modes in SEED_MODES.items() for mode in modes]
    seeds += [
        encoded(line, "JPEG", exif=exif),
        encoded(line, "PNG", exif=exif),
        encoded(line, "TIFF", compression="tiff_lzw"),
        encoded(Image.fromarray(line_array().astype(np.uint16) * 257), "PNG"),
        encoded(_palette_line(1, 0), "PNG", transparency=0),
    ]
    return seeds


SEED_IMAGES = _seed_images()
IMAGE_TOKENS = [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00", b"\xff\xd8\xff", b"\xff\xc0",
                b"IDAT", b"IEND", b"tRNS", b"VP8 ", b"II*\x00", b"MM\x00*", b"\x00" * 64]  # fmt: skip


PILLOW_WARNINGS = pytest.mark.filterwarnings("ignore::UserWarning:PIL")
"""Pillow warns about the damage it skips over (corrupt EXIF, tags past the end); not ours to show."""


@PILLOW_WARNINGS
@settings(max_examples=1000, deadline=2000, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.sampled_from(SEED_IMAGES).flatmap(lambda seed: mutations(seed, IMAGE_TOKENS)))
def test_mutated_images_decode_or_raise_image_error(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    """The limit of 2 M pixels keeps each example quick; what it guards is the same code as the
    default limit's."""
    check_image(data, tmp_path_factory.getbasetemp() / "mutated.img", max_pixels=2_000_000)


@PILLOW_WARNINGS
@settings(max_examples=100, deadline=2000, derandomize=True)
@given(data=st.binary(max_size=4096))
def test_random_bytes_raise_image_error(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    check_image(data, tmp_path_factory.getbasetemp() / "random.img", max_pixels=2_000_000)


def test_a_float_tiff_with_a_nan_pixel_is_refused_not_read_as_black(tmp_path) -> None:
    """Regression: the NaN set the peak, the [0, 1] image was scaled by 1 and came out all 0."""
    pixels = np.full((8, 20), 0.9, np.float32)
    pixels[3, 4] = np.nan
    path = tmp_path / "float.tif"
    Image.fromarray(pixels, mode="F").save(path)
    with pytest.raises(ImageError, match="float.tif: damaged or unsupported image .image has NaN or infinite pixels"):
        load_gray(path)
