"""The command line: each verb's output formats and its one-line errors."""

from __future__ import annotations

import json
import re

import pytest

from click.testing import CliRunner

from linescribe.cli import main


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_predict_text_json_tsv(overfit_model, overfit_lines, tmp_path):
    paths = sorted(overfit_lines.glob("*.png"))
    expected = {p.name: p.with_suffix(".gt.txt").read_text(encoding="utf-8").strip() for p in paths}

    single = run("predict", overfit_model, paths[0])
    assert single.exit_code == 0 and single.output == expected[paths[0].name] + "\n"

    folder = run("predict", "--model", overfit_model, "--format", "json", overfit_lines)
    results = json.loads(folder.output)
    assert {r["file"].split("/")[-1]: r["text"] for r in results} == expected

    output = tmp_path / "out.tsv"
    glob_run = run("predict", "-m", overfit_model, "-f", "tsv", "-o", output, str(overfit_lines / "*.png"))
    assert glob_run.exit_code == 0 and glob_run.output == ""
    rows = output.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "file\ttext\tconfidence" and len(rows) == len(paths) + 1


def test_predict_reports_a_bad_file_and_reads_the_rest(overfit_model, overfit_lines, tmp_path):
    broken = tmp_path / "zero.png"
    broken.write_bytes(b"")
    good = sorted(overfit_lines.glob("*.png"))[0]
    result = CliRunner().invoke(main, ["predict", str(overfit_model), str(broken), str(good)])
    assert result.exit_code == 1
    assert "zero.png" in result.output and good.name in result.output


def test_eval_reports_rates_tsv_and_json(overfit_model, overfit_lines, tmp_path):
    report = tmp_path / "lines.tsv"
    text = run("eval", overfit_model, overfit_lines, "--report", report)
    assert text.exit_code == 0
    assert "CER        0.00%" in text.output and "WER        0.00%" in text.output
    rows = report.read_text(encoding="utf-8").splitlines()
    assert rows[0].split("\t") == ["id", "reference", "prediction", "distance", "confidence"]
    assert all(row.split("\t")[3] == "0" for row in rows[1:])

    as_json = json.loads(run("eval", overfit_model, f"gt:{overfit_lines}", "--json").output)
    assert as_json["cer"] == 0.0 and as_json["lines"] == len(rows) - 1


def test_eval_refuses_a_report_over_its_input_or_where_none_can_be_written_before_reading(overfit_model, overfit_lines, tmp_path):
    """Regression: --report over the manifest being scored replaced it with the report, and an
    unwritable --report failed only after every line was read."""
    manifest = tmp_path / "m.tsv"
    manifest.write_text("".join(f"{path}\t{path.with_suffix('.gt.txt').read_text(encoding='utf-8').strip()}\n"
                                for path in sorted(overfit_lines.glob("*.png"))), encoding="utf-8")
    kept = manifest.read_bytes()
    over = CliRunner().invoke(main, ["eval", str(overfit_model), str(manifest), "--report", str(manifest)])
    assert over.exit_code == 2 and f"--report {manifest} is the input {manifest}" in over.output
    assert manifest.read_bytes() == kept
    folder = CliRunner().invoke(main, ["eval", str(overfit_model), str(manifest), "--report", str(tmp_path)])
    assert folder.exit_code == 2 and "cannot write here" in folder.output and "CER" not in folder.output
    model = tmp_path / "model.safetensors"
    model.write_bytes(overfit_model.read_bytes())
    over_model = CliRunner().invoke(main, ["eval", str(model), str(manifest), "--report", str(model)])
    assert over_model.exit_code == 2 and f"--report {model} is the input {model}" in over_model.output
    label = sorted(overfit_lines.glob("*.gt.txt"))[0]
    kept_label = label.read_bytes()
    over_label = CliRunner().invoke(main, ["eval", str(overfit_model), str(overfit_lines), "--report", str(label)])
    assert over_label.exit_code == 2 and f"is a file of the dataset {overfit_lines}" in over_label.output
    assert label.read_bytes() == kept_label and model.read_bytes() == overfit_model.read_bytes()


def test_eval_report_escapes_an_id_with_a_line_break(overfit_model, overfit_lines, tmp_path):
    """Regression: a file name with a newline cut its report row in two."""
    data = tmp_path / "data"
    data.mkdir()
    image = sorted(overfit_lines.glob("*.png"))[0]
    (data / "p1\nx.png").write_bytes(image.read_bytes())
    (data / "p1\nx.gt.txt").write_bytes(image.with_suffix(".gt.txt").read_bytes())
    report = tmp_path / "report.tsv"
    assert run("eval", overfit_model, data, "--report", report).exit_code == 0
    rows = report.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2 and rows[1].startswith("p1\\nx\t")


def test_eval_says_why_nothing_was_left_to_evaluate(overfit_model, tmp_path):
    """Regression: only "nothing to evaluate" was said; the summary with its skip reasons came after."""
    (tmp_path / "a.png").write_bytes((next(iter(sorted(overfit_model.parents[1].glob("lines/*.png"))))).read_bytes())
    (tmp_path / "a.gt.txt").write_text("\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(overfit_model), str(tmp_path)])
    assert result.exit_code == 2
    assert "skipped 1: 1 empty transcription" in result.output and "nothing to evaluate" in result.output


def test_lm_build_refuses_to_write_over_its_corpus_or_its_other_output(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\n", encoding="utf-8")
    over = CliRunner().invoke(main, ["lm", "build", str(corpus), "-o", str(corpus)])
    assert over.exit_code == 2 and f"-o {corpus} is the input {corpus}" in over.output
    assert corpus.read_text(encoding="utf-8") == "the cat sat on the mat\n"
    both = CliRunner().invoke(main, ["lm", "build", str(corpus), "-o", str(tmp_path / "c.arpa"), "--lexicon", str(tmp_path / "c.arpa")])
    assert both.exit_code == 2 and "-o and --lexicon name one file" in both.output


def test_a_console_that_cannot_encode_a_symbol_gets_it_escaped(overfit_model):
    """Regression: ␣ (info's alphabet) and ∅ (eval's confusions) on a cp1252 stdout, as on Windows
    redirected to a file, were a UnicodeEncodeError traceback."""
    import os
    import subprocess
    import sys

    environment = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    result = subprocess.run([sys.executable, "-m", "linescribe", "info", str(overfit_model)], capture_output=True, env=environment)
    assert result.returncode == 0, result.stderr.decode("cp1252", "replace")
    assert b"\\u2423" in result.stdout


def test_info_lists_the_architectures_as_json_and_refuses_a_model_beside_archs():
    listed = json.loads(run("info", "--archs", "--json").output)
    assert {"crnn", "ppocr"} <= set(listed)
    beside = CliRunner().invoke(main, ["info", "--archs", "default"])
    assert beside.exit_code == 2 and "give no MODEL" in beside.output


def test_eval_counts_errors_against_wrong_references(overfit_model, overfit_lines, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    image = sorted(overfit_lines.glob("*.png"))[0]
    (wrong / image.name).write_bytes(image.read_bytes())
    truth = image.with_suffix(".gt.txt").read_text(encoding="utf-8").strip()
    (wrong / image.with_suffix(".gt.txt").name).write_text(truth + "x", encoding="utf-8")
    document = json.loads(run("eval", overfit_model, wrong, "--json").output)
    assert document["char_errors"] == 1 and document["chars"] == len(truth) + 1
    assert document["confusions"] == [{"reference": "x", "prediction": "", "count": 1}]


def test_eval_with_ids_counts_the_listed_lines_and_says_what_its_skips_count(overfit_model, overfit_lines, tmp_path):
    """The lines a --ids list selects are counted as such; the skips, which a list of line or
    form ids cannot place, are said to count the whole dataset (they once read as the list's)."""
    import shutil

    data = shutil.copytree(overfit_lines, tmp_path / "lines")
    (data / "doc001_l0004.gt.txt").write_text("\n", encoding="utf-8")  # empty: skipped, and not in the list
    ids = tmp_path / "ids.txt"
    ids.write_text("doc000_l0000\ndoc000_l0001\n", encoding="utf-8")
    text = run("eval", overfit_model, data, "--ids", ids)
    assert text.exit_code == 0 and "lines      2\n" in text.stdout
    assert f"{data}: 2 lines selected of 5 read, skipped 1 in the whole dataset: 1 empty transcription (e.g. doc001_l0004)\n" in text.stderr
    document = json.loads(run("eval", overfit_model, data, "--ids", ids, "--json").stdout)
    assert document["lines"] == 2 and document["lines_read_before_ids"] == {str(data): 5}
    assert document["skipped_entries_before_ids"] == {str(data): {"empty transcription": 1}} and "skipped_entries" not in document
    whole = json.loads(run("eval", overfit_model, data, "--json").stdout)
    assert whole["lines"] == 5 and whole["skipped_entries"] == {str(data): {"empty transcription": 1}}


def test_eval_scores_an_unreadable_image_as_read_as_nothing_and_strict_stops_at_it(overfit_model, overfit_lines, tmp_path):
    """An image that could not be decoded dropped out of the totals (a flattered CER), and
    --strict let it pass."""
    import shutil

    data = shutil.copytree(overfit_lines, tmp_path / "lines")
    image = sorted(data.glob("*.png"))[0]
    reference = image.with_suffix(".gt.txt").read_text(encoding="utf-8").strip()
    image.write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    document = json.loads(run("eval", overfit_model, data, "--json").stdout)
    assert document["lines"] == 6 and document["unreadable_images"] == 1
    assert document["char_errors"] == len(reference)  # the others are read exactly
    strict = run("eval", overfit_model, data, "--strict")
    assert strict.exit_code == 2 and f"{image.stem}: " in strict.output and "(--strict)" in strict.output


def test_eval_json_counts_each_dataset_as_given(overfit_model, overfit_lines, tmp_path):
    """Two splits of one manifest share its path: the counts of one replaced the other's."""
    images = sorted(overfit_lines.glob("*.png"))
    rows = [f"{image}\t{image.with_suffix('.gt.txt').read_text(encoding='utf-8').strip()}\t{split}\n"
            for image, split in zip(images, ("val", "test", "test"))]
    rows += [f"{tmp_path / 'gone.png'}\tx\tval\n", f"{tmp_path / 'gone2.png'}\tx\ttest\n", f"{tmp_path / 'gone3.png'}\tx\ttest\n"]
    manifest = tmp_path / "m.tsv"
    manifest.write_text("file\ttext\tsplit\n" + "".join(rows), encoding="utf-8")
    document = json.loads(run("eval", overfit_model, f"{manifest}#val", f"{manifest}#test", "--json").stdout)
    assert document["skipped_entries"] == {
        f"{manifest}#val": {"image file missing": 1}, f"{manifest}#test": {"image file missing": 2}
    }


def test_eval_and_predict_take_the_model_the_same_ways(overfit_model, overfit_lines):
    """Both verbs: ``[MODEL] ITEMS...``, ``--model``, a bundled name, or nothing (the default model)."""
    line = sorted(overfit_lines.glob("*.png"))[0]
    reference = line.with_suffix(".gt.txt").read_text(encoding="utf-8").strip()
    for verb, data in (("predict", line), ("eval", overfit_lines)):
        by_default = run(verb, "--format=tsv" if verb == "predict" else "--confusions=3", data)
        named = run(verb, "--format=tsv" if verb == "predict" else "--confusions=3", "default", data)
        assert by_default.exit_code == 0
        assert [row for row in by_default.output.splitlines() if "lines/s" not in row] == [
            row for row in named.output.splitlines() if "lines/s" not in row
        ]
        for given in ([overfit_model, data], ["-m", overfit_model, data]):
            assert run(verb, *given).exit_code == 0
        alone = CliRunner().invoke(main, [verb, "default"])
        assert alone.exit_code == 2 and "default is a model: give the" in alone.output
    assert run("predict", overfit_model, line).output == reference + "\n"
    assert "CER        0.00%" in run("eval", overfit_model, overfit_lines).output


def test_info_shows_the_model_description(overfit_model):
    document = json.loads(run("info", overfit_model, "--json").output)
    assert document["arch"] == "crnn" and document["format"] == "linescribe.model"
    assert "preprocess" in document and "alphabet" in document


def test_info_summarises_a_model_in_a_few_lines():
    output = run("info").output
    lines = output.splitlines()
    assert len(lines) <= 15, output
    fields = dict(line.split(None, 1) for line in lines[:4])
    assert re.match(r"default \(crnn, \d+\.\d M parameters", fields["model"]), fields["model"]
    assert "0…9" in fields["alphabet"] and "a…z" in fields["alphabet"]
    assert any(line.startswith("licence") and "CC-BY-SA-4.0" in line for line in lines)
    assert any(line.startswith("test CER") and "hooker" in line for line in lines)


def test_info_says_a_soup_is_an_average_and_shows_no_validation_of_its_own(tmp_path):
    from generated import random_model
    from linescribe.modelfile.weights import save_model
    from linescribe.training.averaging import average_weights

    first = random_model("crnn", seed=1)
    first.metrics = {"val_cer": 0.1, "val_wer": 0.2, "epoch": 1, "step": 9}
    soup = average_weights([first, random_model("crnn", seed=2)], ["a/model.safetensors", "b/model.safetensors"])
    lines = run("info", str(save_model(soup, tmp_path / "soup.safetensors"))).output.splitlines()
    assert any(line.startswith("averaged") and "2 models' weights (a/model.safetensors, b/model.safetensors)" in line for line in lines)
    assert not any(line.startswith("validation") for line in lines)


def test_errors_are_one_line_without_traceback(tmp_path):
    result = CliRunner().invoke(main, ["train", str(tmp_path / "missing"), "-o", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "missing" in result.output and "Traceback" not in result.output
    bad_model = CliRunner().invoke(main, ["predict", "-m", str(tmp_path / "x.safetensors"), str(tmp_path)])
    assert bad_model.exit_code != 0 and "Traceback" not in bad_model.output


def test_outputs_the_system_refuses_are_one_line_for_every_verb(tmp_path):
    """Any verb writing under a file, where a folder is needed (the system's own error, not one of
    ours), ends in one line naming the path."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\n", encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["lm", "build", str(corpus), "-o", str(blocker / "x.arpa")])
    assert result.exit_code == 2
    assert result.output == f"linescribe: error: {blocker}: a file is there, where a folder is needed\n"


def test_train_command_trains_and_reports(tmp_path):
    from generated import line_texts, write_gt_folder

    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    result = run(
        "train", data, "--val", data, "-o", tmp_path / "run", "--max-steps", "3", "--workers", "0",
        "--batch-size", "4", "--hparam", 'channels=[8,16,16]', "--hparam", "pools=[[2,2],[2,2],[2,1]]",
        "--hparam", "lstm_hidden=16", "--text-rules", "quotes",
    )
    assert result.exit_code == 0, result.output
    assert "best val CER" in result.output and (tmp_path / "run" / "model.safetensors").is_file()


@pytest.mark.slow
def test_train_output_is_one_clean_progress_bar_and_exact_end_wording(tmp_path):
    """As a user sees it in a terminal (a real process): no Lightning line twice, no advert, no
    deprecation notice, no ``v_num``; loss, val CER and lines/s in the bar; steps and epochs said
    exactly at the end."""
    import re
    import subprocess
    import sys

    from generated import line_texts, write_gt_folder

    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    done = subprocess.run(
        [sys.executable, "-m", "linescribe", "train", str(data), "--val", str(data), "-o", str(tmp_path / "run"),
         "--max-steps", "3", "--workers", "0", "--batch-size", "4", "--threads", "1", "--hparam", "channels=[8,16,16]",
         "--hparam", "pools=[[2,2],[2,2],[2,1]]", "--hparam", "lstm_hidden=16", "--val-every", "1"],
        capture_output=True, text=True, timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for noise in ("v_num", "litlogger", "Tip:", "LeafSpec", "GPU available", "TPU available", "Validation DataLoader"):
        assert noise not in output, noise
    assert output.count("crnn: ") == 1 and output.count("train: ") == 1 and output.count("val: ") == 1
    assert re.search(r"loss=[\d.]+, val CER=[\d.]+%, lines/s=[\d.]+", output)
    assert re.search(r"best val CER [\d.]+% after 3 steps \(1\.50 epochs, [\d.]+ lines/s\); model: ", output)


def test_an_output_that_cannot_be_written_is_refused_before_reading(overfit_model, overfit_lines, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["predict", str(overfit_model), str(overfit_lines), "-o", str(blocker / "out.txt")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith(f"linescribe: error: {blocker / 'out.txt'}: cannot write here (")
    assert "Traceback" not in result.output


def test_output_dir_with_a_format_it_would_ignore_is_refused(overfit_model, overfit_lines, tmp_path):
    result = CliRunner().invoke(main, ["predict", str(overfit_model), str(overfit_lines), "--output-dir", str(tmp_path / "o"), "-f", "json"])
    assert result.exit_code == 2 and "--output-dir writes one .txt per image" in result.output



def test_options_eval_would_ignore_are_refused_or_warned_about(overfit_model, overfit_lines):
    """--speller without --spell and a dataset's @WEIGHT were accepted and ignored."""
    speller = run("eval", overfit_model, overfit_lines, "--speller", "symspell-fr")
    assert speller.exit_code == 2 and "--speller symspell-fr chooses the corrector of --spell: give --spell too" in speller.output
    weighted = run("eval", overfit_model, f"{overfit_lines}@3")
    assert weighted.exit_code == 0 and "eval reads every line once; the @3 weight is not used" in weighted.stderr
