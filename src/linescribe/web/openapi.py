"""The OpenAPI 3 description served at ``/api/v1/openapi.json``, made from the same option list
(``FORM_OPTIONS``) and limits that the server enforces."""

from __future__ import annotations

from typing import Any

from linescribe import __version__
from linescribe.web.options import FORM_OPTIONS
from linescribe.web.service import MAX_REQUEST_WORK
from linescribe.web.uploads import ACCEPTED_FORMATS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "required": list(properties), "properties": properties}
    if description:
        schema["description"] = description
    return schema


NUMBER = {"type": "number"}
STRING = {"type": "string"}
CONFIDENCE = {"type": "number", "minimum": 0, "maximum": 1}


def openapi_document(max_upload_bytes: int, max_images: int, max_pixels: int) -> dict[str, Any]:
    limits = (
        f"At most {max_upload_bytes / 1_000_000:g} MB and {max_images} images per request, "
        f"{max_pixels:,} pixels for the images together."
    )
    form = {
        "image": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": f"One or more images (repeat the field). The type is read from the content, not the file "
            f"name: {', '.join(ACCEPTED_FORMATS)}. {limits}",
        },
        **{option.name: option.schema() for option in FORM_OPTIONS},
    }
    point = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2, "description": "x, y in image pixels"}
    page_fields = {
        "polygon": {"type": "array", "items": point, "description": "layout=page only: the line's outline."},
        "baseline": {"type": "array", "items": point, "description": "layout=page only: the line's baseline."},
        "block": {"type": "integer", "description": "layout=page only: its column or paragraph, in reading order."},
    }
    schemas = {
        "Error": _object({"error": {"type": "string", "description": "What went wrong, in one sentence."}}),
        "Word": _object(
            {"text": STRING, "confidence": CONFIDENCE},
            "A whitespace-separated word and its least sure character's confidence.",
        ),
        "Alternative": _object(
            {
                "text": STRING,
                "probability": {**CONFIDENCE, "description": "Share of this text among the decoder's final beams."},
                "score": {**NUMBER, "description": "The decoder's own log score."},
            },
            "One entry of a beam decoder's n-best list (best first).",
        ),
        "Line": _object(
            {
                "text": STRING,
                "confidence": {**CONFIDENCE, "description": "Mean of the character confidences."},
                "char_confidences": {"type": "array", "items": CONFIDENCE, "description": "One per character of text."},
                "char_positions": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                    "description": "One [start, end) pair per character of text: the pixel columns of the uploaded image "
                    "(layout=page: of the page) from where the network wrote the character to where the next one "
                    "begins (the last one: the line's average character width). Empty when the text could not be "
                    "aligned to the network's output.",
                },
                "words": {"type": "array", "items": _ref("Word")},
                "alternatives": {
                    "type": "array",
                    "items": _ref("Alternative"),
                    "description": (
                        "The beam decoder's n-best, first the line's text (with spell: as corrected, in the place "
                        "and with the share of the best reading), then the other readings as decoded; empty for greedy decoding."
                    ),
                },
            }
        ),
        "Image": _object(
            {
                "name": {**STRING, "description": "The uploaded file's name, reduced to its last path component."},
                "format": {**STRING, "description": "The format found in the content (PNG, JPEG, ...)."},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "text": {**STRING, "description": "The image's lines joined by newlines."},
                "confidence": {**CONFIDENCE, "description": "Mean of the lines' confidences."},
                "lines": {"type": "array", "items": _ref("Line"), "description": "layout=line: the image's one line; layout=page: its lines in reading order."},
            }
        ),
        "Recognition": _object(
            {
                "model": STRING,
                "options": {
                    "type": "object",
                    "description": "The decoding options used (the request's over the server's defaults).",
                },
                "text": {**STRING, "description": "Every image's text, in upload order, joined by newlines."},
                "images": {"type": "array", "items": _ref("Image")},
                "timing": _object({"decode_ms": NUMBER, "recognize_ms": NUMBER, "total_ms": NUMBER}),
            }
        ),
        "Health": _object(
            {
                "status": {"type": "string", "enum": ["ok"]},
                "model": STRING,
                "alphabet_size": {"type": "integer"},
                "version": STRING,
            }
        ),
    }
    schemas["Line"]["properties"].update(page_fields)  # optional: not in "required"
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "linescribe",
            "version": __version__,
            "description": "Read handwritten text lines: upload line images, get their text with confidences.",
        },
        "paths": {
            "/api/v1/recognize": {
                "post": {
                    "operationId": "recognize",
                    "summary": "Read the text of one or more line images.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {"type": "object", "required": ["image"], "properties": form}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The text of every image.",
                            "content": {"application/json": {"schema": _ref("Recognition")}},
                        },
                        "400": _error(
                            "No image, an empty file, an unknown or malformed option, "
                            "or an option the decoder does not take."
                        ),
                        "405": _error("Not a POST."),
                        "413": _error(
                            f"Too large: {limits} Bodies far over the limit are refused by the server before "
                            "they are read, with a plain-text 413. Also too much decoding: the columns of the lines "
                            f"(the images, or the lines found on pages) at the model's height times the beam width over "
                            f"{MAX_REQUEST_WORK:,}."
                        ),
                        "415": _error("A file that is not an image in an accepted format."),
                        "422": _error(
                            "An image in an accepted format that cannot be read: truncated or damaged, NaN pixels, "
                            "or a multi-page TIFF or an animation (send one page per file)."
                        ),
                        "500": _error("A bug; the server log has the details."),
                        "503": _error(
                            "The request asks for beam_lm or spell, and the server could not load its language "
                            "model or spelling dictionary at start-up (the answer says why)."
                        ),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness, and the loaded model's name and alphabet size.",
                    "responses": {
                        "200": {
                            "description": "The server is up.",
                            "content": {"application/json": {"schema": _ref("Health")}},
                        }
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description.",
                    "responses": {"200": {"description": "OpenAPI 3 document.", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {"schemas": schemas},
    }
