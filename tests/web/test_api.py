"""The HTTP API through Flask's test client: answers, options, every kind of refused upload, the
health check and security headers (the OpenAPI description: test_records.py)."""

from __future__ import annotations

import io
import struct
import tempfile
import time
import zlib

import numpy as np
import pytest
import werkzeug.formparser
from PIL import Image

from linescribe.metrics import char_distance

RECOGNIZE = "/api/v1/recognize"


def post(client, *files: tuple[bytes, str], **form: str):
    """POST images (bytes, file name) and form options as multipart/form-data."""
    data: dict = dict(form)
    if files:
        data["image"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(RECOGNIZE, data=data, content_type="multipart/form-data")


def png_of_size(width: int, height: int, rows_compressed: bool = True) -> bytes:
    """A grayscale PNG of the given size, all black: a decompression bomb when large (its pixels
    compress to almost nothing). Without ``rows_compressed`` it holds no pixel data at all."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    compressor = zlib.compressobj(9)
    pixels = b""
    if rows_compressed:
        row = bytes(width + 1)  # filter byte + pixels
        pixels = b"".join(compressor.compress(row * 100) for _ in range(height // 100))
    pixels += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def assert_error(response, status: int, *fragments: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    message = response.get_json()["error"]
    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in message and "\n" not in message
    return message


# ---- answers ---------------------------------------------------------------------------------


def test_recognize_reads_a_rendered_line(client, png):
    truth = "the cat sat on the mat"
    response = post(client, (png(truth), "cat.png"))
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["model"] == "default"
    assert answer["options"] == {"decoder": "greedy", "spell": False, "layout": "line"}
    (image,) = answer["images"]
    assert image["name"] == "cat.png" and image["format"] == "PNG" and image["width"] > image["height"] > 0
    (line,) = image["lines"]
    assert answer["text"] == image["text"] == line["text"]
    assert char_distance(truth, line["text"]) / len(truth) < 0.4
    assert len(line["char_confidences"]) == len(line["text"])
    assert all(0.0 <= value <= 1.0 for value in line["char_confidences"])
    assert len(line["char_positions"]) == len(line["text"])
    assert all(0 <= start < end <= image["width"] for start, end in line["char_positions"])
    assert 0.0 < line["confidence"] <= 1.0 and line["alternatives"] == []
    assert [word["text"] for word in line["words"]] == line["text"].split()
    assert set(answer["timing"]) == {"decode_ms", "recognize_ms", "total_ms"}


def test_several_images_keep_their_order_and_names(client, png, service):
    texts = ["a dog ran far", "on the mat", "home away from home"]
    response = post(client, *[(png(text), f"{index}.png") for index, text in enumerate(texts)])
    answer = response.get_json()
    assert [image["name"] for image in answer["images"]] == ["0.png", "1.png", "2.png"]
    alone = [post(client, (png(text), "x.png")).get_json()["text"] for text in texts]
    assert [image["text"] for image in answer["images"]] == alone
    assert answer["text"] == "\n".join(alone)


def test_type_is_decided_by_content_not_by_name(client, png):
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(png())).save(jpeg, "JPEG")
    response = post(client, (png(), "notes.txt"), (jpeg.getvalue(), "scan.png"))
    assert response.status_code == 200
    assert [image["format"] for image in response.get_json()["images"]] == ["PNG", "JPEG"]


def test_file_names_are_reduced_to_a_harmless_last_component(client, png):
    response = post(client, (png(), "../../etc/<b>x\u202e\x00.png"), (png(), "/home/me/line.png"), (png(), ""))
    names = [image["name"] for image in response.get_json()["images"]]
    assert names == ["<b>x.png", "line.png", "image 3"]


def test_beam_decoder_gives_alternatives_and_options_are_echoed(client, png):
    answer = post(client, (png(), "a.png"), decoder="beam", beam_width="8").get_json()
    assert answer["options"] == {"decoder": "beam", "beam_width": 8, "spell": False, "layout": "line"}
    alternatives = answer["images"][0]["lines"][0]["alternatives"]
    assert alternatives and alternatives[0]["text"] == answer["text"]
    assert sum(alternative["probability"] for alternative in alternatives) <= 1.0001


def test_a_line_of_over_64_characters_reads_with_a_beam_decoder(client, png):
    text = "the quick brown fox jumps over the lazy dog and the cat sat on the mat today"
    response = post(client, (png(text), "long.png"), decoder="beam")
    assert response.status_code == 200
    assert len(response.get_json()["text"]) > 64


def test_spell_correction_can_be_switched_on(client, png):
    answer = post(client, (png("I recieved the specimns"), "a.png"), spell="true").get_json()
    assert answer["options"]["spell"] is True
    line = answer["images"][0]["lines"][0]
    assert len(line["char_confidences"]) == len(line["text"])


@pytest.mark.parametrize(
    ("form", "fragments"),
    [
        ({"beam_width": "4"}, ("beam_width needs decoder beam or beam_lm (got decoder greedy)",)),
        ({"decoder": "best"}, ("decoder: unknown value 'best'", "greedy")),
        ({"decoder": "beam", "beam_width": "100000"}, ("beam_width: 100000 is outside 1..64",)),
        ({"decoder": "beam", "beam_width": "many"}, ("beam_width: expected an integer",)),
        ({"decoder": "beam_lm", "lm_weight": "nan"}, ("lm_weight",)),
        ({"spell": "maybe"}, ("spell: expected true or false",)),
        ({"lm": "/etc/passwd"}, ("unknown option 'lm'",)),
        ({"layout": "columns"}, ("layout: unknown value 'columns'; known: line, page",)),
    ],
)
def test_bad_options_are_refused_by_name(client, png, form, fragments):
    assert_error(post(client, (png(), "a.png"), **form), 400, *fragments)


# ---- refused uploads -------------------------------------------------------------------------


def test_no_file(client):
    assert_error(client.post(RECOGNIZE), 400, "no image", "the body is empty", "'image'")
    assert_error(client.post(RECOGNIZE, data={"decoder": "greedy"}), 400, "no image", "application/x-www-form-urlencoded")
    assert_error(client.post(RECOGNIZE, json={"image": "aGVsbG8="}), 400, "application/json", "multipart/form-data")
    assert_error(post(client, decoder="greedy"), 400, "no image: send one or more files")


def test_a_body_that_is_not_multipart_is_named_for_what_it_is(client, png):
    """Raw bytes without a Content-Type (requests.post(url, data=...)) were called an empty body,
    and a text body was parsed as options first: 'unknown option hello world'."""
    raw = client.post(RECOGNIZE, data=png(), headers={"Content-Type": ""})
    assert_error(raw, 400, "no image: the body has no Content-Type", "multipart/form-data")
    text = client.post(RECOGNIZE, data="hello world", content_type="application/x-www-form-urlencoded")
    assert_error(text, 400, "no image: the body is application/x-www-form-urlencoded")


def test_a_multi_page_tiff_is_refused_not_read_as_its_first_page(client, png):
    """Only the first page was read, and the answer looked complete."""
    pages = [Image.open(io.BytesIO(png())) for _ in range(2)]
    scan = io.BytesIO()
    pages[0].save(scan, format="TIFF", save_all=True, append_images=pages[1:])
    assert_error(post(client, (scan.getvalue(), "scan.tif")), 422, "scan.tif: a TIFF of 2 pages", "one page per file")


def test_pixels_that_are_no_numbers_are_named_in_the_refusal(client):
    """Any failure to read the pixels was reported as an unreadable mode ('mode F')."""
    data = np.ones((32, 64), dtype=np.float32)
    data[3, 5] = np.nan
    tiff = io.BytesIO()
    Image.fromarray(data, mode="F").save(tiff, format="TIFF")
    assert_error(post(client, (tiff.getvalue(), "x.tif")), 422, "x.tif: ", "image has NaN or infinite pixels")


@pytest.mark.parametrize(
    "body",
    [
        b'--B\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nPNG',  # never closed
        b'--other\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nPNG\r\n--other--\r\n',
    ],
    ids=["unterminated", "wrong boundary"],
)
def test_a_multipart_body_that_cannot_be_parsed_says_so(client, body):
    """Werkzeug drops such a body without a word; it was answered 'no image: send one...'."""
    response = client.post(RECOGNIZE, data=body, content_type="multipart/form-data; boundary=B")
    assert_error(response, 400, "malformed multipart body")


def test_options_twice_or_in_the_query_string_are_refused(client, png):
    """They were silently ignored: the first value won, and query-string options did nothing."""
    assert_error(post(client, (png(), "a.png"), decoder=["greedy", "beam"]), 400, "option 'decoder' is given 2 times")
    response = client.post(RECOGNIZE + "?decoder=beam", data={"image": (io.BytesIO(png()), "a.png")}, content_type="multipart/form-data")
    assert_error(response, 400, "option 'decoder' is in the URL's query string")


def test_file_in_another_field(client, png):
    response = client.post(RECOGNIZE, data={"file": (io.BytesIO(png()), "a.png")}, content_type="multipart/form-data")
    assert_error(response, 400, "unexpected file field 'file'")


def test_an_image_sent_as_a_text_field_is_told_to_be_a_file(client):
    """``curl -F image=<line.png`` sends the bytes as a text field: it was called an unknown option."""
    response = client.post(RECOGNIZE, data={"image": "\x89PNG not a file part"}, content_type="multipart/form-data")
    assert_error(response, 400, "the field 'image' holds text, not a file")


def test_empty_file(client):
    assert_error(post(client, (b"", "empty.png")), 400, "empty.png: the file is empty")


@pytest.mark.parametrize(
    "content",
    [
        b"just some text, not an image",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"%!PS-Adobe-3.0 EPSF-3.0\n",
    ],
)
def test_not_an_image(client, content):
    assert_error(post(client, (content, "photo.png")), 415, "photo.png: not an image in an accepted format", "PNG")


def test_truncated_png(client, png):
    data = png()
    assert_error(post(client, (data[: len(data) // 2], "cut.png")), 422, "cut.png: damaged PNG image")


def test_one_bad_image_refuses_the_request_and_names_it(client, png):
    assert_error(post(client, (png(), "good.png"), (b"nope", "bad.png")), 415, "bad.png")


def test_oversize_request_is_413_json(make_app, png):
    client = make_app(max_upload_mb=0.01).test_client()
    assert_error(post(client, (png() * 8, "big.png")), 413, "at most 0.01 MB")


def test_a_form_over_werkzeugs_limits_is_told_which_limit(client, png):
    """A 600 KB text field fits the 10 MB body: the 413 once said the body was too large."""
    assert_error(post(client, (png(), "a.png"), decoder="x" * 600_000), 413, "a form field is too long", "500,000 bytes")


@pytest.mark.parametrize(("width", "height"), [(9000, 9000), (40000, 40000)])
def test_decompression_bomb_is_refused_before_decoding(client, width, height):
    bomb = png_of_size(width, height, rows_compressed=width * height < 100_000_000)
    assert len(bomb) < 200_000
    assert_error(post(client, (bomb, "bomb.png")), 413, "bomb.png", "pixels")


def test_pixel_limit_counts_the_request_images_together(make_app, png):
    data = png()
    width, height = Image.open(io.BytesIO(data)).size
    client = make_app(max_pixels=int(width * height * 1.5)).test_client()
    assert post(client, (data, "one.png")).status_code == 200
    assert_error(post(client, (data, "one.png"), (data, "two.png")), 413, "two.png", "together")


def test_too_many_images(make_app, png):
    client = make_app(max_images=2).test_client()
    assert_error(post(client, *[(png(), f"{index}.png") for index in range(3)]), 413, "3 images", "limit is 2")


def test_uploads_are_never_written_to_disk(client, monkeypatch):
    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was about to be written to a temporary file")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_disk)
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", no_disk)
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (700, 600, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    assert buffer.tell() > 1_000_000  # over Werkzeug's 500 KB in-memory threshold
    assert post(client, (buffer.getvalue(), "noise.png")).status_code == 200


# ---- other errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_wrong_method(client, method):
    response = getattr(client, method)(RECOGNIZE)
    assert_error(response, 405, f"method {method.upper()} is not allowed", "POST")
    assert "POST" in response.headers["Allow"]


def test_unknown_path(client):
    assert_error(client.get("/api/v2/recognize"), 404, "/api/v1/openapi.json")


def test_a_bug_is_a_500_without_details(client, png, service, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail in /srv/private/path")

    monkeypatch.setattr(service, "read", broken)
    message = assert_error(post(client, (png(), "a.png")), 500)
    assert "secret" not in message and "RuntimeError" not in message


# ---- health, headers, OpenAPI ----------------------------------------------------------------


def test_health(client, service):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "model": "default",
        "alphabet_size": service.alphabet_size,
        "version": "0.1.0",
    }
    assert service.alphabet_size == len(service.model.alphabet) > 0


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/v1/openapi.json", "/static/app.js", "/nope", RECOGNIZE])
def test_security_headers_on_every_answer(client, path):
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_page_layout_answers_each_line_in_reading_order_with_its_polygon(client):
    from generated import PAGE_TEXTS, printed_page
    from PIL import Image

    page = printed_page()
    buffer = io.BytesIO()
    Image.fromarray(page.image).save(buffer, "PNG")
    answer = post(client, (buffer.getvalue(), "page.png"), layout="page").get_json()
    (image,) = answer["images"]
    assert answer["options"]["layout"] == "page" and len(image["lines"]) == len(PAGE_TEXTS)
    assert image["text"] == "\n".join(line["text"] for line in image["lines"])
    tops = [min(y for _, y in line["polygon"]) for line in image["lines"]]
    assert tops == sorted(tops)  # top to bottom
    assert all(len(line["baseline"]) >= 2 and line["block"] == 0 for line in image["lines"])
    for line in image["lines"]:  # the page's columns, within the line's reach
        xs = [x for x, _ in line["polygon"]]
        assert len(line["char_positions"]) == len(line["text"])
        assert all(min(xs) - 40 <= start < end <= max(xs) + 40 for start, end in line["char_positions"])


def test_tiny_flat_images_cannot_ask_for_minutes_of_decoding(client):
    """A 1x100 pixel upload (under 200 bytes) scales to a 4,096-column line at the model's height,
    which beam_lm at width 64 read in 11 s: a request's columns times its beam width are bounded."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (1, 100), dtype=np.uint8)).save(buffer, "PNG")
    flat = buffer.getvalue()
    started = time.perf_counter()
    message = assert_error(
        post(client, *[(flat, f"{n}.png") for n in range(4)], decoder="beam_lm", beam_width="64"), 413, "times beam width 64"
    )
    assert "smaller beam_width" in message
    assert time.perf_counter() - started < 2  # refused before any reading
    assert post(client, (flat, "a.png"), (flat, "b.png")).status_code == 200  # greedy: the same lines are cheap


def test_the_lines_found_on_pages_count_towards_the_work_bound(client, monkeypatch):
    from generated import printed_page

    page = printed_page()
    buffer = io.BytesIO()
    Image.fromarray(page.image).save(buffer, "PNG")
    assert post(client, (buffer.getvalue(), "page.png"), layout="page").status_code == 200
    monkeypatch.setattr("linescribe.web.service.MAX_REQUEST_WORK", 500)  # less than its lines' columns
    assert_error(post(client, (buffer.getvalue(), "page.png"), layout="page"), 413, f"{len(page.polygons)} lines of")
