"""The page at ``/``: upload images and read them in the browser (``static/app.js`` calls the API)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from linescribe.decoding import DECODERS
from linescribe.web.api import current_service
from linescribe.web.uploads import ACCEPTED_FORMATS

bp = Blueprint("pages", __name__)

DECODER_LABELS = {
    "greedy": "Greedy (fastest)",
    "beam": "Beam search",
    "beam_lm": "Beam search + language model",
}


@bp.get("/")
def index() -> str:
    service = current_service()
    return render_template(
        "index.html",
        model=service.name,
        alphabet_size=service.alphabet_size,
        decoders=[(name, DECODER_LABELS.get(name, name)) for name in DECODERS if name not in service.unavailable],
        default_decoder=service.defaults.decoder,
        spell=service.defaults.speller is not None,
        spell_available="spell" not in service.unavailable,
        max_upload_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        formats=ACCEPTED_FORMATS,
    )
