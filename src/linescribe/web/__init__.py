"""The web app and HTTP API of ``linescribe serve``: ``create_app(service)`` returns the Flask app.

api.py       POST /api/v1/recognize, GET /api/v1/openapi.json, GET /healthz
pages.py     GET /: the page (templates/index.html, static/app.js, static/app.css)
service.py   ModelService: the model, loaded once and shared by all requests
uploads.py   images decoded in memory, type by content, size and pixel limits
options.py   the request's form options (one list for the parser and the OpenAPI document)
errors.py    every error as JSON {"error": ...}
server.py    waitress, graceful stop on SIGTERM
"""

from __future__ import annotations

import io
from typing import IO

from flask import Flask, Request, Response, request

from linescribe.data.images import MAX_PIXELS
from linescribe.web import api, pages
from linescribe.web.errors import register_error_handlers
from linescribe.web.service import ModelService

DEFAULT_MAX_UPLOAD_MB = 10.0
DEFAULT_MAX_IMAGES = 32

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
"""Sent with every response. ``img-src blob:`` lets the page show the user's own images from
object URLs; nothing else may come from anywhere but this server."""


class InMemoryRequest(Request):
    """Keeps uploaded files in memory: Werkzeug would write those over 500 KB to a temporary
    file. MAX_CONTENT_LENGTH bounds what one request can hold."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


def _add_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def create_app(
    service: ModelService,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    max_images: int = DEFAULT_MAX_IMAGES,
    max_pixels: int = MAX_PIXELS,
) -> Flask:
    """The app for an already loaded model. Limits: bytes per request (``max_upload_mb``, 1 MB =
    10^6 bytes), images per request, and pixels of a request's images together."""
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=int(max_upload_mb * 1_000_000), MAX_IMAGES=max_images, MAX_PIXELS=max_pixels
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["linescribe"] = service
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    register_error_handlers(app)
    app.after_request(_add_headers)
    return app


__all__ = ["ModelService", "create_app"]
