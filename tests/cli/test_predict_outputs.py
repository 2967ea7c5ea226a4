"""``linescribe predict -o FILE``: the file gets the format its name says, or a clear refusal."""

from __future__ import annotations

import json
from xml.etree.ElementTree import fromstring

import pytest
from click.testing import CliRunner
from PIL import Image

from generated import PAGE_TEXTS, printed_page, random_model, render_line, write_document
from linescribe.cli import main
from linescribe.cli.predict import TSV_HEADER
from linescribe.modelfile.export import export_onnx


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    export_onnx(random_model(), path)
    return path


def test_line_images_get_json_or_tsv_when_the_file_is_named_so(model, tmp_path):
    """Regression: only .jsonl was inferred; -o r.json and -o r.tsv got plain text."""
    render_line("abc").save(tmp_path / "a.png")
    assert run("predict", model, tmp_path / "a.png", "-o", tmp_path / "r.json").exit_code == 0
    [record] = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert record["file"] == str(tmp_path / "a.png") and "char_confidences" in record
    assert run("predict", model, tmp_path / "a.png", "-o", tmp_path / "r.tsv").exit_code == 0
    assert (tmp_path / "r.tsv").read_text(encoding="utf-8").startswith(TSV_HEADER)
    assert run("predict", model, tmp_path / "a.png", "-o", tmp_path / "r.txt", "-f", "json").exit_code == 0, "-f decides for other names"
    json.loads((tmp_path / "r.txt").read_text(encoding="utf-8"))


def test_a_file_named_for_another_format_than_asked_or_for_xml_of_line_images_is_refused(model, tmp_path):
    render_line("abc").save(tmp_path / "a.png")
    other = run("predict", model, tmp_path / "a.png", "-o", tmp_path / "r.json", "-f", "tsv")
    assert other.exit_code == 2 and "gets json: leave out --format tsv" in other.output
    xml = run("predict", model, tmp_path / "a.png", "-o", tmp_path / "r.xml")
    assert xml.exit_code == 2 and "line images give text, json or tsv" in xml.output
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.xml").exists()


def test_one_page_image_gets_page_or_alto_xml_by_the_files_name(model, tmp_path):
    Image.fromarray(printed_page().image).save(tmp_path / "letter.png")
    for kind, root in (("page", "PcGts"), ("alto", "alto")):
        target = tmp_path / f"letter.{kind}.xml"
        result = run("predict", model, "--layout", "page", tmp_path / "letter.png", "-o", target)
        assert result.exit_code == 0, result.output
        document = fromstring(target.read_bytes())
        assert document.tag.endswith("}" + root)
        assert sum(node.tag.endswith("}TextLine") for node in document.iter()) == len(PAGE_TEXTS)
    pages = run("predict", model, "--layout", "page", tmp_path / "letter.png", "-o", tmp_path / "letter.json")
    assert pages.exit_code == 0 and len(json.loads((tmp_path / "letter.json").read_text())[0]["lines"]) == len(PAGE_TEXTS)
    plain = run("predict", model, "--layout", "page", tmp_path / "letter.png", "-o", tmp_path / "letter.xml")
    assert plain.exit_code == 2 and "name the file .page.xml or .alto.xml" in plain.output
    (tmp_path / "copy.png").write_bytes((tmp_path / "letter.png").read_bytes())
    two = run("predict", model, "--layout", "page", tmp_path / "letter.png", tmp_path / "copy.png", "-o", tmp_path / "both.alto.xml")
    assert two.exit_code == 2 and "holds one page; for 2 images give --output-dir and --formats alto" in two.output


def test_page_and_alto_files_give_json_to_a_json_file_and_never_tsv(model, tmp_path):
    document = write_document(tmp_path / "pages", "p1", "page")
    result = run("predict", model, document, "-o", tmp_path / "read.json")
    assert result.exit_code == 0, result.output
    [record] = json.loads((tmp_path / "read.json").read_text(encoding="utf-8"))
    assert record["document"] == str(document) and len(record["lines"]) == len(PAGE_TEXTS)
    tsv = run("predict", model, document, "-o", tmp_path / "read.tsv")
    assert tsv.exit_code == 2 and "a .tsv name asks for TSV, which only line images give" in tsv.output


def test_a_tsv_name_for_pages_says_that_its_suffix_chose_tsv(tmp_path):
    """It said '--layout page writes text or json', to a user who never asked for TSV."""
    from click.testing import CliRunner

    from linescribe.cli import main

    result = CliRunner().invoke(main, ["predict", "--layout", "page", str(tmp_path / "page.png"), "-o", str(tmp_path / "out.tsv")])
    assert result.exit_code == 2 and "a .tsv name asks for TSV, which only line images give" in result.output
