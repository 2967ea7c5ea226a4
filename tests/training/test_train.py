"""Training end to end on tiny generated data: learning, resuming, budgets and bad input."""

from __future__ import annotations

import csv
import json
import signal
from pathlib import Path

import pytest

from generated import OVERFIT_TEXTS, line_texts, render_line, tiny_train_config, write_gt_folder
from linescribe.data.dataset import load_dataset
from linescribe.errors import LinescribeError
from linescribe.evaluation import evaluate
from linescribe.inference import load_recognizer
from linescribe.training.module import LineRecognitionModule
from linescribe.training.checkpoints import read_checkpoint
from linescribe.training.run import train


def test_tiny_model_learns_its_lines_to_cer_zero(overfit_model, overfit_lines):
    recognizer = load_recognizer(overfit_model)
    images = sorted(overfit_lines.glob("*.png"))
    texts = [image.with_suffix(".gt.txt").read_text(encoding="utf-8").strip() for image in images]
    assert [p.text for p in recognizer.predict_many(images)] == texts


def test_loss_falls_and_logs_are_written(overfit_model):
    run = overfit_model.parent
    with open(run / "logs" / "csv" / "metrics.csv", encoding="utf-8") as handle:
        losses = [float(row["train_loss"]) for row in csv.DictReader(handle) if row.get("train_loss")]
    assert losses[-1] < losses[0] / 5
    assert (run / "logs" / "tensorboard").is_dir()
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    document = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert set("".join(OVERFIT_TEXTS)) == set(document["alphabet"])


def test_interrupt_leaves_checkpoint_and_resume_continues(tmp_path, monkeypatch):
    data = write_gt_folder(tmp_path / "lines", line_texts(12))
    output = tmp_path / "run"
    original_step = LineRecognitionModule.training_step
    calls = {"count": 0}

    def step_then_ctrl_c(self, batch, batch_idx):
        calls["count"] += 1
        if calls["count"] == 8:
            raise KeyboardInterrupt
        return original_step(self, batch, batch_idx)

    monkeypatch.setattr(LineRecognitionModule, "training_step", step_then_ctrl_c)
    previous_handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):  # Lightning's graceful Ctrl-C shutdown exits with status 1
            train(tiny_train_config(data, output, max_steps=20, val_every=1))
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    checkpoint = read_checkpoint(output / "checkpoints" / "last.ckpt")
    assert checkpoint["global_step"] == 7

    calls["count"] = -1000  # no more interrupts
    monkeypatch.setattr(LineRecognitionModule, "training_step", original_step)
    result = train(tiny_train_config(data, output, max_steps=20, val_every=1, resume=True))
    assert result.steps == 20
    assert result.model_path.is_file()


def test_a_resumed_run_whose_time_budget_is_spent_says_so(tmp_path, caplog):
    """--max-time counts the whole run: a resume with the first run's budget trained one step and
    stopped without a word."""
    data = write_gt_folder(tmp_path / "lines", line_texts(12))
    output = tmp_path / "run"
    train(tiny_train_config(data, output, max_steps=100_000, max_time="00:00:00:03", val_every=1))
    with caplog.at_level("WARNING"):
        train(tiny_train_config(data, output, max_steps=100_000, max_time="00:00:00:03", val_every=1, resume=True))
    assert any("--max-time 00:00:00:03 counts the whole run, resumes included, and is spent" in r.getMessage() for r in caplog.records)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    with pytest.raises(LinescribeError, match="nothing to resume"):
        train(tiny_train_config(data, tmp_path / "empty", resume=True))


def test_short_budget_still_writes_a_validated_model(tmp_path):
    """--max-steps ending before the first validation: one validation runs and the model is saved."""
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    result = train(tiny_train_config(data, tmp_path / "run", max_steps=3, val_every=1000))
    assert result.model_path.is_file() and 0.0 <= result.best_val_cer


def test_steps_after_the_last_validation_are_validated_at_the_end(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    train(tiny_train_config(data, tmp_path / "run", max_steps=14, val_every=5))
    with open(tmp_path / "run" / "logs" / "csv" / "metrics.csv", encoding="utf-8") as handle:
        validated = [int(row["step"]) for row in csv.DictReader(handle) if row.get("val_cer")]
    assert validated[-1] == 14 and len(validated) == len(set(validated))
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 14  # --resume goes on from there


def test_split_by_document_when_no_validation_set(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(24))  # 6 documents of 4 lines
    result = train(tiny_train_config(data, tmp_path / "run", val=[], val_fraction=0.34, max_steps=2))
    # whole documents of 4 lines go to training; validation lines whose characters never occur
    # in training (so the model could not write them) are set aside
    assert result.train_lines % 4 == 0 and 0 < result.train_lines < 24
    assert 24 - result.train_lines - 4 < result.val_lines <= 24 - result.train_lines


def test_bad_entries_are_skipped_and_counted(tmp_path, caplog):
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    (data / "doc000_l0000.gt.txt").write_text("\n", encoding="utf-8")  # empty label
    (data / "doc000_l0001.png").write_bytes(b"not an image")  # unreadable image
    caplog.set_level("INFO")
    result = train(tiny_train_config(data, tmp_path / "run", max_steps=2))
    assert result.train_lines == 6
    summary = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("empty transcription" in line and "unreadable image" in line for line in summary)


def test_an_image_that_breaks_after_its_header_is_skipped_once_and_counted(tmp_path, caplog):
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    image = data / "doc000_l0001.png"
    intact = image.read_bytes()
    image.write_bytes(intact[:60])  # the size check reads the header; decoding fails
    caplog.set_level("WARNING")
    result = train(tiny_train_config(data, tmp_path / "run", val=[str(data)], max_steps=6))
    assert result.skipped == {"image unreadable while training": 2}  # once in training, once in validation
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipping line doc000_l0001")]
    assert len(warnings) == 2  # once per split, not once per batch that met it
    assert any("2 lines were left out" in r.getMessage() for r in caplog.records)
    image.write_bytes(intact)  # repaired: the resumed part meets it whole, the earlier part's count stays
    resumed = train(tiny_train_config(data, tmp_path / "run", val=[str(data)], max_steps=9, resume=True))
    assert resumed.skipped == {"image unreadable while training": 2}


def test_strict_turns_a_bad_entry_into_an_error(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    (data / "doc000_l0000.gt.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(LinescribeError, match="doc000_l0000.*empty transcription"):
        train(tiny_train_config(data, tmp_path / "run", strict=True))


def test_characters_outside_a_given_alphabet_are_skipped(tmp_path):
    data = write_gt_folder(tmp_path / "lines", ["abc", "abd", "cab", "bad"])
    alphabet = tmp_path / "alphabet.txt"
    alphabet.write_text("a\nb\nc\n", encoding="utf-8")
    result = train(tiny_train_config(data, tmp_path / "run", alphabet=alphabet, max_steps=2))
    assert result.train_lines == 2


def test_validation_scores_the_lines_the_model_cannot_write_as_eval_does(tmp_path, overfit_model, overfit_lines, caplog):
    """Regression: validation left out lines with characters outside the alphabet and lines too
    narrow for their text, so a run's val CER flattered the model against ``eval`` on the same lines."""
    val = tmp_path / "val"
    val.mkdir()
    for image in sorted(overfit_lines.glob("*.png"))[:4]:  # read without an error
        for source in (image, image.with_suffix(".gt.txt")):
            (val / source.name).write_bytes(source.read_bytes())
    render_line("the cat sat #").save(val / "unknown.png")
    (val / "unknown.gt.txt").write_text("the cat sat #\n", encoding="utf-8")
    render_line("the cat sat").crop((0, 0, 12, 44)).save(val / "narrow.png")
    (val / "narrow.gt.txt").write_text("the cat sat\n", encoding="utf-8")
    alphabet = tmp_path / "alphabet.txt"
    alphabet.write_text("".join(f"{char}\n" for char in load_recognizer(overfit_model).model.alphabet.chars), encoding="utf-8")
    config = tiny_train_config(overfit_lines, tmp_path / "run", val=[str(val)], init=overfit_model, alphabet=alphabet, max_steps=1, lr=1e-9)
    with caplog.at_level("INFO", logger="linescribe"):
        result = train(config)
    assert result.val_lines == 6 and result.skipped == {}
    assert "scored although the model cannot write them: 1 with characters outside the alphabet, 1 too narrow for their text" in caplog.text
    reference = evaluate(load_recognizer(result.model_path, backend="torch"), load_dataset(str(val)).samples).rates.cer
    assert result.best_val_cer == pytest.approx(reference, abs=1e-6) and reference > 0  # was 0: four lines read right


def test_fine_tuning_from_a_model_keeps_shared_characters(tmp_path, overfit_model):
    data = write_gt_folder(tmp_path / "lines", ["the cat sat!", "on the mat!"])
    result = train(tiny_train_config(data, tmp_path / "run", init=overfit_model, max_steps=1, lr=1e-9))
    recognizer = load_recognizer(result.model_path)
    assert "!" in recognizer.model.alphabet
    # after one step at a negligible learning rate the old knowledge is still there
    line = sorted((overfit_model.parents[1] / "lines").glob("*.png"))[0]
    expected = line.with_suffix(".gt.txt").read_text(encoding="utf-8").strip()
    assert recognizer.predict(line).text == expected


def test_a_fine_tune_may_change_dropout_but_no_weight_shape(tmp_path, overfit_model):
    data = write_gt_folder(tmp_path / "lines", ["the cat sat!", "on the mat!"])
    hparams = load_recognizer(overfit_model).model.hparams
    tuned = train(tiny_train_config(data, tmp_path / "run", init=overfit_model, max_steps=1, hparams={**hparams, "dropout": 0.3}))
    assert load_recognizer(tuned.model_path).model.hparams == {**hparams, "dropout": 0.3}
    unset = {name: value for name, value in hparams.items() if name != "dropout"}
    again = train(tiny_train_config(data, tmp_path / "again", init=tuned.model_path, max_steps=1, hparams=unset))
    assert load_recognizer(again.model_path).model.hparams["dropout"] == 0.3, "a fine-tune keeps its model's dropout"
    wider = {**hparams, "lstm_hidden": hparams["lstm_hidden"] * 2}
    with pytest.raises(LinescribeError, match=r"--init needs the same architecture \(only dropout may differ\)"):
        train(tiny_train_config(data, tmp_path / "wider", init=overfit_model, max_steps=1, hparams=wider))


def test_a_fine_tune_trains_the_init_models_own_network(tmp_path, overfit_model):
    """--init alone is enough: the tiny model's non-default widths come from its file, and a
    conflicting --arch or width is refused before any data is read (the data path is absent)."""
    data = write_gt_folder(tmp_path / "lines", ["the cat sat!", "on the mat!"])
    hparams = load_recognizer(overfit_model).model.hparams
    tuned = train(tiny_train_config(data, tmp_path / "run", init=overfit_model, max_steps=1, hparams={}))
    assert load_recognizer(tuned.model_path).model.hparams == hparams
    absent = tmp_path / "no-such-data"
    with pytest.raises(LinescribeError, match="--init is a crnn model, it cannot start a ppocr run"):
        train(tiny_train_config(absent, tmp_path / "ppocr", init=overfit_model, arch="ppocr", hparams={}))
    with pytest.raises(LinescribeError, match=r"--hparam lstm_hidden=64 but the model has 32"):
        train(tiny_train_config(absent, tmp_path / "wide", init=overfit_model, hparams={"lstm_hidden": 64}))


def test_iam_with_split_lists_from_the_command_line(tmp_path):
    from click.testing import CliRunner

    from generated import write_iam_root
    from linescribe.cli import main

    texts = line_texts(8, seed=3)
    # the validation form repeats training texts, so no validation line has an unknown character
    root = write_iam_root(tmp_path / "iam", {"a01-000u": texts[:4], "a01-001u": texts[4:], "a01-002u": texts[:4]})
    (tmp_path / "trainset.txt").write_text("a01-000u\na01-001u\n", encoding="utf-8")  # form ids
    (tmp_path / "validationset1.txt").write_text("a01-002u-00\na01-002u-01\n", encoding="utf-8")  # line ids
    result = CliRunner().invoke(
        main,
        ["train", f"iam:{root}", "--train-ids", str(tmp_path / "trainset.txt"), "--val-ids",
         str(tmp_path / "validationset1.txt"), "-o", str(tmp_path / "run"), "--max-steps", "2", "--workers", "0",
         "--hparam", "channels=[8,16,16]", "--hparam", "pools=[[2,2],[2,2],[2,1]]", "--hparam", "lstm_hidden=16"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert document["data"]["train"][0]["lines"] == 8 and document["data"]["val"][0]["lines"] == 2


def test_train_ids_alone_hold_validation_out_of_the_listed_forms(tmp_path):
    """With --train-ids and no --val-ids, validation comes from the listed forms only: the
    unlisted ones (IAM's test forms) are neither trained nor validated on."""
    from generated import write_iam_root
    from linescribe.training.run import _select

    texts = line_texts(3, seed=4)
    forms = {f"a01-{index:03d}u": texts for index in range(20)}
    root = write_iam_root(tmp_path / "iam", forms)
    listed = sorted(forms)[:14]
    (tmp_path / "trainset.txt").write_text("\n".join(listed) + "\n", encoding="utf-8")
    config = tiny_train_config(root, tmp_path / "run", val=[], train_ids=tmp_path / "trainset.txt", val_fraction=0.3)
    config.train = [f"iam:{root}"]
    train_sets, val_sets = _select(config)
    trained = {sample.group for sample in train_sets[0].samples}
    validated = {sample.group for sample in val_sets[0].samples}
    assert validated and trained and not trained & validated
    assert trained | validated == set(listed)


def test_missing_split_file_is_a_clear_error(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    with pytest.raises(LinescribeError, match="trainset.txt: --train-ids file not found"):
        train(tiny_train_config(data, tmp_path / "run", train_ids=tmp_path / "trainset.txt"))


def test_trains_on_page_xml_crops(tmp_path):
    """The real PAGE sample pages: lines are cropped by polygon while training."""
    from generated import SHARED

    pages = SHARED / "data" / "pages-sample" / "hooker"
    if not pages.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    result = train(tiny_train_config(pages, tmp_path / "run", train=[f"page:{pages}"], val=[f"page:{pages}"], max_steps=2))
    assert result.train_lines == 33 and result.model_path.is_file()


def test_synthetic_lines_on_the_fly(tmp_path):
    """--synth-ratio adds rendered lines to every epoch; their texts are recorded in run.json."""
    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    result = train(tiny_train_config(data, tmp_path / "run", synth_ratio=0.5, max_steps=3))
    document = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert document["data"]["synthetic_lines"] == 6
    assert result.model_path.is_file()


def test_synthetic_lines_keep_their_share_beside_weighted_datasets(tmp_path, monkeypatch):
    """Lines are drawn in proportion to their weight: with ``data@3`` synthetic lines of weight 1
    made 25 % of the draws instead of the 50 % asked for."""
    from linescribe.training import run

    captured = {}
    original = run.LineDataModule

    def capture(*args, **kwargs):
        captured["weights"] = kwargs["train_weights"]
        return original(*args, **kwargs)

    monkeypatch.setattr(run, "LineDataModule", capture)
    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    other = write_gt_folder(tmp_path / "other", line_texts(6, seed=1))
    val = write_gt_folder(tmp_path / "val", line_texts(6, seed=0)[:2])  # its own lines: --val's are never trained on
    config = tiny_train_config(data, tmp_path / "run", train=[f"{data}@3", f"{other}@1"], val=[str(val)], synth_ratio=0.5, max_steps=1)
    train(config)
    weights = captured["weights"]
    synthetic = weights[12:]  # after the 12 real lines
    assert len(synthetic) == 12 and sum(synthetic) / sum(weights) == pytest.approx(0.5)


def test_synthetic_items_render_their_own_text():
    from linescribe.alphabet import Alphabet
    from linescribe.data.preprocess import Preprocessing
    from linescribe.data.synth import LineSynthesizer
    from linescribe.training.datamodule import LineDataset

    alphabet = Alphabet.from_texts(["the cat sat on a mat"])
    dataset = LineDataset([], alphabet, Preprocessing(height=48), None, LineSynthesizer(alphabet=alphabet.chars), ["the cat"])
    image, label, index = dataset[0]
    assert len(dataset) == 1 and index == 0
    assert image.shape[0] == 48 and image.max() > 0.5
    assert alphabet.decode(label) == "the cat"


def test_val_ids_alone_hold_their_lines_out_of_training(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(8, seed=5) * 2)
    val_list = tmp_path / "val.txt"
    val_list.write_text("doc002\ndoc003\n", encoding="utf-8")  # the second copy of the texts
    result = train(tiny_train_config(data, tmp_path / "run", val=[], val_ids=val_list, max_steps=1))
    assert (result.train_lines, result.val_lines) == (8, 8)
    # the same when --val names the dataset again (IAM style: `train D --val D --val-ids list`)
    again = train(tiny_train_config(data, tmp_path / "again", val=[str(data)], val_ids=val_list, max_steps=1))
    assert (again.train_lines, again.val_lines) == (8, 8)  # was (16, 8): the val lines were trained on


def test_lines_that_validation_reads_are_not_trained_on(tmp_path):
    """``train lines/mss19 --val lines/mss19/val``: the top folder holds the val folder. Its lines
    are validated on, never trained on, and counted as skipped, however --val spells the path."""
    from linescribe.training.run import _select

    top = tmp_path / "set"
    write_gt_folder(top / "train", line_texts(8))
    write_gt_folder(top / "val", line_texts(4, seed=1), prefix="v")
    (tmp_path / "link").symlink_to(top / "val", target_is_directory=True)
    train_sets, val_sets = _select(tiny_train_config(top, tmp_path / "run", val=[str(tmp_path / "link")]))
    assert [sample.id for sample in train_sets[0].samples] == [f"train/doc{n // 4:03d}_l{n:04d}" for n in range(8)]
    assert len(val_sets[0].samples) == 4
    assert train_sets[0].skipped == {"also a validation line": 4}
    assert train_sets[0].summary().endswith("8 lines, skipped 4: 4 also a validation line (e.g. val/v000_l0000)")


def test_page_lines_are_compared_by_their_crop_of_the_page(tmp_path):
    """Lines cropped from one page image are the same line only when their polygons are."""
    import re

    from generated import write_document
    from linescribe.training.run import _select

    xml = write_document(tmp_path / "pages", "letter", "page").read_text(encoding="utf-8")
    (tmp_path / "val").mkdir()
    two_lines = re.sub(r'<TextLine id="r1l[234]".*?</TextLine>', "", xml, flags=re.S).replace("letter.png", "../pages/letter.png")
    (tmp_path / "val" / "letter.xml").write_text(two_lines, encoding="utf-8")
    config = tiny_train_config(tmp_path, tmp_path / "run", train=[f"page:{tmp_path / 'pages'}"], val=[f"page:{tmp_path / 'val'}"])
    train_sets, val_sets = _select(config)
    assert [sample.id for sample in val_sets[0].samples] == ["letter/r1l0", "letter/r1l1"]
    assert [sample.id for sample in train_sets[0].samples] == ["letter/r1l2", "letter/r1l3", "letter/r1l4"]
    assert train_sets[0].skipped == {"also a validation line": 2}


def test_validating_on_the_very_training_lines_keeps_them_with_a_warning(tmp_path, caplog):
    """``train D --val D`` asks for a model that learns D by heart (as these tests' tiny models
    do): nothing would be left to train on, so the lines stay, and the user is told."""
    from linescribe.training.run import _select

    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    with caplog.at_level("WARNING"):
        train_sets, val_sets = _select(tiny_train_config(data, tmp_path / "run"))
    assert len(train_sets[0].samples) == len(val_sets[0].samples) == 4 and not train_sets[0].skipped
    assert "every training line is also a validation line" in caplog.text


def test_an_existing_run_is_never_overwritten(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    train(tiny_train_config(data, tmp_path / "run", max_steps=1))
    with pytest.raises(LinescribeError, match="already holds a training run"):
        train(tiny_train_config(data, tmp_path / "run", max_steps=1))


def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(LinescribeError, match="a-file/run: cannot write here .Not a directory."):
        train(tiny_train_config(data, blocker / "run", max_steps=1))


def test_resume_keeps_the_runs_own_settings(tmp_path, caplog):
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    train(tiny_train_config(data, tmp_path / "run", max_steps=2, val_every=1))
    caplog.set_level("WARNING")
    result = train(tiny_train_config(data, tmp_path / "run", max_steps=4, val_every=1, lr=0.5, resume=True))
    assert result.steps == 4
    assert any("own settings for lr" in record.getMessage() for record in caplog.records)
    document = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert document["config"]["lr"] == 0.003


def test_resume_says_when_its_data_is_no_longer_the_same(tmp_path, caplog):
    """Lines added since the run started change what it validates on: resuming says so."""
    texts = line_texts(8)
    data = write_gt_folder(tmp_path / "lines", texts)
    train(tiny_train_config(data, tmp_path / "run", max_steps=2, val_every=1))
    caplog.set_level("WARNING")
    train(tiny_train_config(data, tmp_path / "run", max_steps=3, val_every=1, resume=True))
    assert not any("not comparable" in record.getMessage() for record in caplog.records)
    write_gt_folder(tmp_path / "lines", texts + texts[:2])
    train(tiny_train_config(data, tmp_path / "run", max_steps=4, val_every=1, resume=True))
    assert any("now reads [10] and [10]" in record.getMessage() and "not comparable" in record.getMessage() for record in caplog.records)


def test_a_budget_change_that_the_lr_schedule_cannot_follow_is_refused_on_resume(tmp_path):
    """Regression: the restored onecycle schedule keeps its old total, so training died one step
    past the old budget, and kept dying on every later resume."""
    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    train(tiny_train_config(data, tmp_path / "run", max_steps=2, val_every=1, scheduler="onecycle"))
    with pytest.raises(LinescribeError, match="--max-steps cannot change when resuming this run: its onecycle"):
        train(tiny_train_config(data, tmp_path / "run", max_steps=4, val_every=1, scheduler="onecycle", resume=True))
    # the budget it was laid out for resumes (nothing left to do here), as does any other option
    assert train(tiny_train_config(data, tmp_path / "run", max_steps=2, val_every=1, resume=True)).steps == 2


def test_resume_from_the_command_line_keeps_the_runs_budget_unless_one_is_typed(tmp_path):
    from click.testing import CliRunner

    from linescribe.cli import main

    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    tiny = ["--hparam", "channels=[8,16,16]", "--hparam", "pools=[[2,2],[2,2],[2,1]]", "--hparam", "lstm_hidden=16"]
    common = [str(data), "--val", str(data), "-o", str(tmp_path / "run"), "--workers", "0", "--batch-size", "3", *tiny]
    first = CliRunner().invoke(main, ["train", *common, "--max-steps", "3", "--val-every", "1"])
    assert first.exit_code == 0, first.output
    resumed = CliRunner().invoke(main, ["train", *common, "--resume"])  # no --max-steps: the run's own 3
    assert resumed.exit_code == 0, resumed.output
    assert "after 3 steps (" in resumed.output


def test_the_origin_of_third_party_weights_travels_with_every_model_made_from_them(tmp_path):
    """A model converted from others' weights (PP-OCRv6's, Apache-2.0) records their ``source``;
    each fine-tune of it, a resumed one whose --init file is gone and a fine-tune of a fine-tune
    must carry it on as ``derived_from``, or the licence notice is lost on the way to users."""
    from click.testing import CliRunner

    from linescribe.cli import main
    from linescribe.modelfile import read_model_document
    from linescribe.modelfile.weights import load_model_file, save_model

    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    base = train(tiny_train_config(data, tmp_path / "base", max_steps=1)).model_path
    assert "derived_from" not in read_model_document(base)["training"]
    converted = load_model_file(base)
    source = {"model": "upstream recognizer", "license": "Apache-2.0"}
    converted.training = {"source": source}
    converted_path = save_model(converted, tmp_path / "converted.safetensors")

    tuned = tiny_train_config(data, tmp_path / "tuned", init=converted_path, max_steps=2, scheduler="constant")
    assert read_model_document(train(tuned).model_path)["training"]["derived_from"] == source
    converted_path.unlink()
    resumed = train(tiny_train_config(data, tmp_path / "tuned", init=converted_path, max_steps=2, resume=True))
    assert read_model_document(resumed.model_path)["training"]["derived_from"] == source
    again = train(tiny_train_config(data, tmp_path / "again", init=resumed.model_path, max_steps=1))
    assert read_model_document(again.model_path)["training"]["derived_from"] == source

    shown = CliRunner().invoke(main, ["info", str(again.model_path)])
    assert shown.exit_code == 0 and "derived from  upstream recognizer (Apache-2.0)" in shown.output


def test_resuming_from_the_api_with_only_a_new_budget_still_resumes(tmp_path):
    """``resume_overrides`` naming only what the user typed left out ``resume`` itself, so the
    run restarted from scratch over its own folder (the --init again, an early model written
    over the best one)."""
    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    train(tiny_train_config(data, tmp_path / "run", max_steps=2, val_every=1))
    run_file = tmp_path / "run" / "run.json"
    started = run_file.stat().st_mtime_ns
    result = train(tiny_train_config(data, tmp_path / "run", max_steps=2, val_every=1, resume=True), resume_overrides={"max_time"})
    assert result.steps == 2
    assert run_file.stat().st_mtime_ns == started  # a new run would have written its own


def test_a_patience_given_on_resume_is_the_one_used():
    """Lightning's early stopping restored the checkpoint's patience over the one given."""
    from linescribe.training.callbacks import PatienceAsGiven

    stopping = PatienceAsGiven(monitor="val_cer", mode="min", patience=20)
    stopping.load_state_dict({"wait_count": 3, "stopped_epoch": 0, "best_score": 0.5, "patience": 6})
    assert stopping.patience == 20 and stopping.wait_count == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [({"max_time": "2h"}, "--max-time must be DD:HH:MM:SS"), ({"val_every": 1.5}, "--val-every must be a whole number")],
)
def test_a_malformed_budget_is_refused_before_anything_is_written(tmp_path, options, message):
    """``--max-time 2h`` failed in Lightning with a traceback after the data was read, and left a
    run.json that neither a rerun nor --resume could get past; ``--val-every 1.5`` validated every epoch."""
    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    with pytest.raises(LinescribeError, match=message):
        train(tiny_train_config(data, tmp_path / "run", **options))
    assert not (tmp_path / "run" / "run.json").exists()


def test_a_run_saved_with_a_fractional_val_every_above_one_still_resumes(tmp_path):
    """Before --val-every had to be a whole number above 1, 1.5 was taken as 1; such a run must
    still resume (its run.json would now be refused)."""
    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    train(tiny_train_config(data, tmp_path / "run", max_steps=2, val_every=1))
    run_file = tmp_path / "run" / "run.json"
    document = json.loads(run_file.read_text(encoding="utf-8"))
    document["config"]["val_every"] = 1.5
    run_file.write_text(json.dumps(document), encoding="utf-8")
    assert train(tiny_train_config(data, tmp_path / "run", max_steps=2, val_every=1, resume=True)).steps == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": float("nan")}, "--lr must be a finite number"),
        ({"val_every": float("inf")}, "--val-every must be a finite number"),
        ({"lr": 0.0}, "--lr must be above 0"),
        ({"weight_decay": -0.1}, "--weight-decay must be at least 0"),
        ({"max_steps": 0}, "--max-steps must be at least 1, or -1"),
        ({"max_time": "00:00:00:00"}, "leaves no time to train"),
        ({"log_every": 0}, "--log-every must be at least 1"),
        ({"val": [], "val_fraction": 0.0}, "--val-fraction 0 holds out no validation lines"),
    ],
)
def test_settings_that_would_train_garbage_or_nothing_are_refused_at_once(tmp_path, options, message):
    """NaN passed every range check and trained garbage; --val-every inf raised OverflowError;
    --max-steps 0 exported an untrained model as a finished run."""
    with pytest.raises(LinescribeError, match=message):
        tiny_train_config(tmp_path, tmp_path / "run", **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"batch_size": 0}, "--batch-size must be at least 1"), ({"lr": 0.0}, "--lr must be above 0"), ({"patience": -1}, "--patience")],
)
def test_adapt_settings_are_checked_in_the_api_too(tmp_path, options, message):
    """batch_size 0 raised ZeroDivisionError after held-out.txt was written."""
    from linescribe.training.config import AdaptConfig

    with pytest.raises(LinescribeError, match=message):
        AdaptConfig(data=["lines"], output=tmp_path / "run", **options)


def test_a_missing_id_list_or_alphabet_is_named_before_the_data_is_read(tmp_path, monkeypatch):
    import linescribe.training.run as run

    data = write_gt_folder(tmp_path / "lines", line_texts(4))
    monkeypatch.setattr(run, "load_datasets", lambda *args: pytest.fail("the data was read first"))
    for options, message in [({"val_ids": tmp_path / "nope.txt"}, "nope.txt: --val-ids file not found"),
                             ({"alphabet": tmp_path / "chars.txt"}, "chars.txt: --alphabet file not found")]:
        with pytest.raises(LinescribeError, match=message):
            train(tiny_train_config(data, tmp_path / "run", **options))


def test_train_ids_that_select_nothing_say_so(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(16))
    listed = tmp_path / "train.txt"
    listed.write_text("other-form\n", encoding="utf-8")
    with pytest.raises(LinescribeError, match="train.txt: --train-ids lists none of the training data"):
        train(tiny_train_config(data, tmp_path / "run", val=[], train_ids=listed))


def test_val_ids_leave_out_only_their_own_datasets_lines(tmp_path):
    """Two folders whose files share names: --val-ids names lines of the validation folder, and
    the training folder's same-named lines (other images) were silently dropped."""
    train_data = write_gt_folder(tmp_path / "a", line_texts(8))
    val_data = write_gt_folder(tmp_path / "b", line_texts(8))  # the same texts: the same alphabet
    listed = tmp_path / "val.txt"
    listed.write_text("doc000\n", encoding="utf-8")
    result = train(tiny_train_config(train_data, tmp_path / "run", val=[str(val_data)], val_ids=listed, max_steps=1))
    assert (result.train_lines, result.val_lines) == (8, 4)


def test_strict_stops_at_an_image_that_breaks_after_its_header(tmp_path):
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    image = data / "doc000_l0001.png"
    image.write_bytes(image.read_bytes()[:60])
    with pytest.raises(LinescribeError, match=r"doc000_l0001.png: line doc000_l0001: .*\(--strict\)"):
        train(tiny_train_config(data, tmp_path / "run", max_steps=4, strict=True))


def test_validation_that_reads_no_line_is_one_clear_error(tmp_path):
    """Early stopping raised Lightning's 'val_cer which is not available' after a whole epoch."""
    data = write_gt_folder(tmp_path / "lines", line_texts(8))
    val = write_gt_folder(tmp_path / "val", line_texts(2, seed=4), prefix="v")
    for image in val.glob("*.png"):
        image.write_bytes(image.read_bytes()[:60])
    with pytest.raises(LinescribeError, match="validation read no line"):
        train(tiny_train_config(data, tmp_path / "run", val=[str(val)], max_steps=4, val_every=1))


def test_a_run_resumes_from_another_working_folder(tmp_path, monkeypatch, caplog):
    """run.json holds the paths as typed: a cluster job resuming from its own folder read them
    from there ('train: no such file or folder', or another dataset of the same name)."""
    monkeypatch.chdir(tmp_path)
    write_gt_folder(tmp_path / "lines", line_texts(8))
    train(tiny_train_config(Path("lines"), Path("run"), max_steps=2, val_every=1))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    caplog.set_level("WARNING")
    result = train(tiny_train_config(tmp_path / "lines", tmp_path / "run", max_steps=3, val_every=1, resume=True),
                   resume_overrides={"max_steps", "train", "val"})
    assert result.steps == 3 and result.train_lines == 8
    assert any("own settings for train, val" in record.getMessage() for record in caplog.records)  # typed otherwise


def test_a_plain_resume_from_the_command_line_warns_about_nothing(tmp_path):
    """The options left at their defaults (and the CLI's default onecycle schedule, which
    refused --max-epochs -1 for a constant-schedule run) were compared with the run's own."""
    from click.testing import CliRunner

    from linescribe.cli import main

    data = write_gt_folder(tmp_path / "lines", line_texts(6))
    tiny = ["--hparam", "channels=[8,16,16]", "--hparam", "pools=[[2,2],[2,2],[2,1]]", "--hparam", "lstm_hidden=16"]
    common = [str(data), "--val", str(data), "-o", str(tmp_path / "run"), "--workers", "0", "--batch-size", "3", *tiny]
    first = CliRunner().invoke(main, ["train", *common, "--max-steps", "2", "--val-every", "1", "--scheduler", "constant", "--lr", "0.01"])
    assert first.exit_code == 0, first.output
    resumed = CliRunner().invoke(main, ["train", *common, "--resume", "--max-epochs", "-1", "--max-steps", "3"])
    assert resumed.exit_code == 0, resumed.output
    assert "after 3 steps (" in resumed.output and "own settings" not in resumed.output
