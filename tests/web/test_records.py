"""The JSON records of read lines against the OpenAPI description (``/api/v1/openapi.json``): the
API's answers in line and page layout, and ``predict``'s records (a ``Line`` with its file and
error). Objects are checked strictly, both ways, so a field added to the records
(``Prediction.to_dict``, ``layout.outputs.line_record``, ``large_jobs.json_record``) and not to
the schema, or the reverse, fails here."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from linescribe.web.options import FORM_OPTIONS

RECOGNIZE = "/api/v1/recognize"
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def check(document: dict, schema: dict, value: Any, where: str = "answer") -> None:
    """``value`` against an OpenAPI 3.0 schema (``$ref``, ``type``, ``nullable``, ``enum``,
    bounds, ``required``, ``properties``, ``items``, ``minItems``/``maxItems``). An object whose
    schema lists its properties may hold no others: stricter than OpenAPI's default, so that the
    description cannot fall behind what the server writes."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if value is None:
        assert schema.get("nullable"), f"{where}: null, and the schema does not allow it"
        return
    kind = schema.get("type")
    if kind:
        assert isinstance(value, JSON_TYPES[kind]), f"{where}: {value!r} is not {kind}"
        assert kind == "boolean" or not isinstance(value, bool), f"{where}: {value!r} is a boolean, not {kind}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} is not one of {schema['enum']}"
    if "minimum" in schema:
        assert value >= schema["minimum"], f"{where}: {value!r} < {schema['minimum']}"
    if "maximum" in schema:
        assert value <= schema["maximum"], f"{where}: {value!r} > {schema['maximum']}"
    if kind == "object":
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{where}: missing {sorted(missing)}"
        properties = schema.get("properties")
        if properties is not None:
            undeclared = set(value) - set(properties)
            assert not undeclared, f"{where}: {sorted(undeclared)} not in the schema"
            for name, item in value.items():
                check(document, properties[name], item, f"{where}.{name}")
    if kind == "array":
        assert schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)), f"{where}: {len(value)} items"
        for index, item in enumerate(value):
            check(document, schema["items"], item, f"{where}[{index}]")


@pytest.fixture
def document(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def post(client, content: bytes, name: str, **form: str) -> dict:
    response = client.post(RECOGNIZE, data={"image": [(io.BytesIO(content), name)], **form}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def recognition(document: dict) -> dict:
    return document["paths"]["/api/v1/recognize"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]


def test_the_checker_refuses_a_field_missing_or_undeclared(document):
    line = {"$ref": "#/components/schemas/Line"}
    record = {"text": "a", "confidence": 0.5, "char_confidences": [0.5], "char_positions": [[0, 3]], "words": [], "alternatives": []}
    check(document, line, record)
    with pytest.raises(AssertionError, match=r"\['extra'\] not in the schema"):
        check(document, line, {**record, "extra": 1})
    with pytest.raises(AssertionError, match=r"missing \['words'\]"):
        check(document, line, {key: value for key, value in record.items() if key != "words"})
    with pytest.raises(AssertionError, match="is not integer"):
        check(document, line, {**record, "char_positions": [[0.5, 3]]})


def test_openapi_describes_what_the_server_does(client, document, png):
    operation = document["paths"]["/api/v1/recognize"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["properties"]) == {"image"} | {option.name for option in FORM_OPTIONS}
    assert form["properties"]["decoder"]["enum"] == ["greedy", "beam", "beam_lm"]
    assert {"200", "400", "405", "413", "415", "422", "500", "503"} <= set(operation["responses"])
    health = document["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    check(document, health, client.get("/healthz").get_json())
    check(document, {"$ref": "#/components/schemas/Error"}, client.get("/nope").get_json())


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_a_line_read_matches_the_schema(client, document, png, decoder):
    answer = post(client, png(), "a.png", decoder=decoder)
    check(document, recognition(document), answer)
    (line,) = answer["images"][0]["lines"]
    assert set(line) == set(document["components"]["schemas"]["Line"]["required"])  # no page fields
    assert bool(line["alternatives"]) == (decoder == "beam")


def test_a_page_read_matches_the_schema_with_every_page_field(client, document):
    from generated import printed_page

    buffer = io.BytesIO()
    Image.fromarray(printed_page().image).save(buffer, "PNG")
    answer = post(client, buffer.getvalue(), "page.png", layout="page")
    check(document, recognition(document), answer)
    lines = answer["images"][0]["lines"]
    assert lines and all(set(line) == set(document["components"]["schemas"]["Line"]["properties"]) for line in lines)


def test_predict_records_are_lines_with_their_file_and_error(document, png, tmp_path):
    """``predict -f json`` (and .jsonl): a Line's fields after ``file``, with ``error`` null; an
    unreadable image's record stops at its error, and greedy decoding's leaves out alternatives."""
    from linescribe.cli import main

    line = document["components"]["schemas"]["Line"]
    reading = {name: line["properties"][name] for name in line["required"]}
    schema = {
        "type": "object",
        "required": ["file", "text", "confidence", "error"],
        "properties": {"file": {"type": "string"}, **reading, "error": {"type": "string", "nullable": True}},
    }
    (tmp_path / "a.png").write_bytes(png())
    (tmp_path / "broken.png").write_bytes(b"")
    for decoder, alternatives in (("greedy", set()), ("beam", {"alternatives"})):
        result = CliRunner().invoke(main, ["predict", "-f", "json", "--decoder", decoder, str(tmp_path)])
        assert result.exit_code == 1, result.output
        records = {record["file"]: record for record in json.loads(result.stdout)}
        read, broken = records[str(tmp_path / "a.png")], records[str(tmp_path / "broken.png")]
        for record in (read, broken):
            check(document, schema, record, f"{decoder} {record['file']}")
        details = [name for name in reading if name not in ("text", "confidence", "alternatives")]
        assert list(read) == ["file", "text", "confidence", "error", *details, *alternatives]
        assert list(broken) == ["file", "text", "confidence", "error"] and broken["error"]
