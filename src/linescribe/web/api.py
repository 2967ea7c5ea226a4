"""The HTTP API: ``POST /api/v1/recognize``, its OpenAPI description, and ``GET /healthz``."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from linescribe import __version__
from linescribe.inference import Prediction
from linescribe.layout import PageLine
from linescribe.layout.outputs import line_record
from linescribe.web.errors import RequestError
from linescribe.web.openapi import openapi_document
from linescribe.web.options import parse_options
from linescribe.web.service import ModelService
from linescribe.web.uploads import Upload, decode_uploads

bp = Blueprint("api", __name__)

IMAGE_FIELD = "image"


def current_service() -> ModelService:
    return current_app.extensions["linescribe"]


@bp.get("/healthz")
def health() -> Response:
    service = current_service()
    return jsonify(status="ok", model=service.name, alphabet_size=service.alphabet_size, version=__version__)


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    config = current_app.config
    return jsonify(openapi_document(config["MAX_CONTENT_LENGTH"], config["MAX_IMAGES"], config["MAX_PIXELS"]))


SEND_IMAGES = f"send one or more files as multipart/form-data in the field '{IMAGE_FIELD}'"


def _body_kind() -> str:
    """What the body of a request that is not multipart is, for its error: a client that posts a
    file's bytes raw sends no Content-Type, which is no empty body."""
    if request.mimetype:
        return f"is {request.mimetype}"
    if request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return "has no Content-Type"
    return "is empty"


@bp.post("/api/v1/recognize")
def recognize() -> Response:
    started = time.perf_counter()
    if IMAGE_FIELD in request.form:  # `curl -F image=<x.png`, or FormData given a string
        raise RequestError(
            400, f"the field '{IMAGE_FIELD}' holds text, not a file: send each image as a file part (curl -F {IMAGE_FIELD}=@line.png)"
        )
    if request.mimetype != "multipart/form-data":  # before the options: a text body is no unknown option
        raise RequestError(400, f"no image: the body {_body_kind()}; {SEND_IMAGES}")
    options = parse_options(request.form, request.args)
    stray = sorted(set(request.files) - {IMAGE_FIELD})
    if stray:
        raise RequestError(
            400, f"unexpected file field {stray[0][:40]!r}: send every image in the field '{IMAGE_FIELD}'"
        )
    files = request.files.getlist(IMAGE_FIELD)
    if not files:
        if request.content_length and not request.form:  # Werkzeug drops a body it cannot parse without a word
            raise RequestError(
                400,
                "no image: malformed multipart body, no parts found (a missing or wrong boundary, an unterminated "
                "body, or a file name that is not UTF-8)",
            )
        raise RequestError(400, f"no image: {SEND_IMAGES}")
    config = current_app.config
    uploads = decode_uploads(
        [(file.filename, file.read()) for file in files], config["MAX_IMAGES"], config["MAX_PIXELS"]
    )
    decoded = time.perf_counter()
    service = current_service()
    reading = service.read([upload.image for upload in uploads], options)
    finished = time.perf_counter()
    images = [_image_record(upload, lines) for upload, lines in zip(uploads, reading.lines, strict=True)]
    return jsonify(
        model=service.name,
        options=reading.decoding,
        text="\n".join(image["text"] for image in images),
        images=images,
        timing={
            "decode_ms": _ms(decoded - started),
            "recognize_ms": _ms(finished - decoded),
            "total_ms": _ms(time.perf_counter() - started),
        },
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _image_record(upload: Upload, lines: list[Prediction] | list[PageLine]) -> dict[str, Any]:
    failed = next((line for line in map(_prediction, lines) if not line.ok), None)
    if failed is not None:
        raise RequestError(422, f"{upload.name}: {failed.error}")
    return {
        "name": upload.name,
        "format": upload.format,
        "width": upload.width,
        "height": upload.height,
        "text": "\n".join(line.text for line in lines),
        "confidence": round(sum(line.confidence for line in lines) / len(lines), 4) if lines else 0.0,
        "lines": [line.to_dict() if isinstance(line, Prediction) else line_record(line) for line in lines],
    }


def _prediction(line: Prediction | PageLine) -> Prediction:
    return line.prediction if isinstance(line, PageLine) else line

