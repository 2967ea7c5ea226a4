"""The form fields ``POST /api/v1/recognize`` takes besides its images.

``FORM_OPTIONS`` is the one list: the request parser and the OpenAPI description are both made
from it, so they cannot disagree. Bounds keep a single request from asking for unbounded work
(a beam of a million hypotheses).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from linescribe.decoding import DECODERS
from linescribe.web.errors import RequestError
from linescribe.web.service import LAYOUTS

MAX_BEAM_WIDTH = 64

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class FormOption:
    """One form field: its JSON Schema type, bounds or choices, and a description."""

    name: str
    kind: str  # "string" (with choices), "integer" or "number" (with both bounds), or "boolean"
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, raw: str) -> Any:
        """The field's value, or RequestError 400 with a message that names the field."""
        raw = raw.strip()
        if self.kind == "boolean":
            if raw.lower() in _TRUE + _FALSE:
                return raw.lower() in _TRUE
            raise RequestError(400, f"{self.name}: expected true or false, got {raw[:40]!r}")
        if self.choices:
            if raw in self.choices:
                return raw
            raise RequestError(400, f"{self.name}: unknown value {raw[:40]!r}; known: {', '.join(self.choices)}")
        try:
            value: int | float = int(raw) if self.kind == "integer" else float(raw)
        except ValueError:
            raise RequestError(
                400, f"{self.name}: expected {'an integer' if self.kind == 'integer' else 'a number'}, got {raw[:40]!r}"
            ) from None
        in_bounds = (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)
        if not math.isfinite(value) or not in_bounds:
            raise RequestError(400, f"{self.name}: {raw[:40]} is outside {self.minimum:g}..{self.maximum:g}")
        return value

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.kind, "description": self.description}
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


FORM_OPTIONS: tuple[FormOption, ...] = (
    FormOption(
        "decoder",
        "string",
        "How frame probabilities become text (default: the server's --decoder). greedy: best class "
        "per frame; beam: CTC prefix beam search with n-best alternatives; beam_lm: beam search with a word n-gram "
        "language model.",
        choices=tuple(DECODERS),
    ),
    FormOption(
        "beam_width", "integer", "Beams kept per frame (beam decoders only).", minimum=1, maximum=MAX_BEAM_WIDTH
    ),
    FormOption(
        "lm_weight",
        "number",
        "Weight of the language model's log-probability (beam_lm).",
        minimum=0,
        maximum=10,
    ),
    FormOption(
        "word_bonus",
        "number",
        "Score added per word (beam_lm): higher favours more, shorter words.",
        minimum=-10,
        maximum=10,
    ),
    FormOption("spell", "boolean", "Correct the spelling of the decoded words (default: the server's --spell)."),
    FormOption(
        "layout",
        "string",
        "What an image holds: line (one text line per image, the default) or page (a page or paragraph: "
        "its lines are found, read, and answered in reading order with their polygons).",
        choices=tuple(LAYOUTS),
    ),
)

OPTION_NAMES = tuple(option.name for option in FORM_OPTIONS)


def parse_options(form: MultiDict[str, str], query: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The options given in the form, parsed; an unknown field is refused by name, and so are an
    option given twice (which value was meant?) and options in the URL's query string (they
    were silently ignored)."""
    if query:
        name = next(iter(query))
        raise RequestError(400, f"option {name[:40]!r} is in the URL's query string: send options as fields of the multipart form")
    unknown = sorted(set(form) - set(OPTION_NAMES))
    if unknown:
        raise RequestError(400, f"unknown option {unknown[0][:40]!r}; known: {', '.join(OPTION_NAMES)}")
    for name in form:
        if len(form.getlist(name)) > 1:
            raise RequestError(400, f"option {name!r} is given {len(form.getlist(name))} times: give it once")
    return {option.name: option.parse(form[option.name]) for option in FORM_OPTIONS if option.name in form}
