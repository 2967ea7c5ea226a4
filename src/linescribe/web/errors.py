"""Every error the server answers is JSON ``{"error": "..."}`` with a 4xx code and a sentence a
person can act on; a bug is answered 500 with no detail (the traceback goes to the server log).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from linescribe.errors import LinescribeError

log = logging.getLogger(__name__)


class RequestError(LinescribeError):
    """A request the server refuses; ``status`` is the HTTP code to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _http_message(error: HTTPException) -> str:
    """Werkzeug's descriptions speak of "the browser" and "the requested URL"; ours say what to do."""
    if error.code == 404:
        return f"no such page or endpoint: {request.path[:200]}; the API is described at /api/v1/openapi.json"
    if error.code == 405:
        allowed = ", ".join(sorted(getattr(error, "valid_methods", None) or []))
        return f"method {request.method} is not allowed on {request.path[:200]}; allowed: {allowed}"
    if error.code == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None and request.content_length <= limit:
            # the body fits: Werkzeug's form limits refused it while parsing
            field, parts = request.max_form_memory_size, request.max_form_parts
            return (
                "a form field is too long or the form has too many parts: at most "
                f"{'any number of' if field is None else f'{field:,}'} bytes per text field and "
                f"{'any number of' if parts is None else f'{parts:,}'} parts"
            )
        images = current_app.config["MAX_IMAGES"]
        return f"the request is too large: at most {limit / 1_000_000:g} MB and {images} images per request"
    if error.code == 400:
        return "malformed request: send the images as multipart/form-data in the field 'image'"
    return str(error.description or error.name)


def _on_http_error(error: HTTPException) -> Response:
    response = error_response(error.code or 500, _http_message(error))
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _on_request_error(error: RequestError) -> Response:
    return error_response(error.status, str(error))


def _on_bug(error: Exception) -> Response:
    """Anything else is the server's fault, a bug or its own settings (an LM file it cannot read)."""
    log.exception("error while serving %s %s", request.method, request.path)
    return error_response(500, "internal server error; the server log has the details")


def register_error_handlers(app: Flask) -> None:
    """JSON answers for HTTP errors (400, 404, 405, 413, ...), refused requests and bugs."""
    app.register_error_handler(HTTPException, _on_http_error)
    app.register_error_handler(RequestError, _on_request_error)
    app.register_error_handler(Exception, _on_bug)
