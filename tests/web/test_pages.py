"""The page and its files: served from the package, nothing fetched from elsewhere, no inline
script, and user data never put on the page as HTML."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

WEB = files("linescribe.web")
PAGE_FILES = ["templates/index.html", "static/app.js", "static/app.css", "static/favicon.svg"]


def test_page_offers_the_decoders_and_names_the_model(client, service):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for decoder in ("greedy", "beam", "beam_lm"):
        assert f'<option value="{decoder}"' in page
    assert '<option value="greedy" selected>' in page
    assert f"<strong>{service.name}</strong>" in page
    assert 'data-max-upload-bytes="10000000"' in page and 'data-recognize-url="/api/v1/recognize"' in page


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/static/app.js", "text/javascript"), ("/static/app.css", "text/css"), ("/static/favicon.svg", "image/svg+xml")],
)
def test_static_files_are_served(client, path, mimetype):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == mimetype


@pytest.mark.parametrize("name", PAGE_FILES)
def test_nothing_is_fetched_from_another_site(name):
    text = (WEB / name).read_text(encoding="utf-8")
    # the SVG namespace names an XML vocabulary (createElementNS needs it); nothing is fetched from it
    without_namespaces = text.replace('xmlns="http://www.w3.org/2000/svg"', "").replace('"http://www.w3.org/2000/svg"', "")
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", without_namespaces, re.IGNORECASE)
    assert "@import" not in text


def test_no_inline_script_or_handlers_and_no_html_from_data():
    page = (WEB / "templates/index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>", page) == ["<script src=\"{{ url_for('static', filename='app.js') }}\" defer>"]
    assert not re.search(r"\son[a-z]+\s*=", page)
    script = (WEB / "static/app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script
