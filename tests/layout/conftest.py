"""Fixtures of the layout tests: the recognizer stub and the vendored XML schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
from layout_pages import EchoRecognizer

SCHEMAS = Path(__file__).parents[1] / "fixtures" / "schemas"


@pytest.fixture
def echo() -> EchoRecognizer:
    return EchoRecognizer()


@pytest.fixture(scope="session")
def schemas():
    """The vendored PAGE 2019 and ALTO 4.3 schemas; the XLink import is mapped to its local copy."""
    xmlschema = pytest.importorskip("xmlschema")
    xlink = (SCHEMAS / "xlink.xsd").resolve().as_uri()
    return {
        "page": xmlschema.XMLSchema(str(SCHEMAS / "pagecontent-2019-07-15.xsd")),
        "alto": xmlschema.XMLSchema(
            str(SCHEMAS / "alto-4-3.xsd"), uri_mapper={"http://www.loc.gov/standards/xlink/xlink.xsd": xlink}
        ),
    }
