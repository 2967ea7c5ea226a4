"""``linescribe serve``'s options: refused at once, before any model is loaded or port opened.
The running server is tested in tests/web/test_server.py."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from linescribe.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--beam-width", "0"], "0 is not in the range x>=1"),
        (["--port", "70000"], "70000 is not in the range 0<=x<=65535"),
        (["--workers", "0"], "0 is not in the range 1<=x<=64"),
        (["--max-upload-mb", "0"], "'0' is below 0.01"),
        (["--max-upload-mb", "20000"], "'20000' is above 10000"),
        (["--max-upload-mb", "inf"], "'inf' is not a finite number"),
        (["--max-upload-mb", "nan"], "'nan' is not a finite number"),  # click's FloatRange let it through
        (["--model", "no-such-model"], "no-such-model: no such model file, and no bundled model of that name"),
    ],
)
def test_bad_options_are_one_line_errors(args, message):
    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
