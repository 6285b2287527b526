"""Never overwrite results nobody asked to overwrite (issue 21): ``i2i eval --data`` writes
under ``RUN/evals/``, never over the run's ``eval.json``; ``--split-from`` scores another run's
held-out split; the final evaluation names its checkpoint and says when it is not the best;
eval's table says what each metric is."""

from __future__ import annotations

import csv
import json
import shlex

import pytest

from tests.conftest import CT_RECIPE, TINY_CT, invoke_cli

CT = f"{CT_RECIPE} " + " ".join(TINY_CT)

#: A second tiny CT run with another held-out split (three test phantoms, not two).
OTHER_SPLIT = ("--set", "source.phantom_test_count=3")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from tests.dicom_fixtures import head_volume, write_series

    tmp = tmp_path_factory.mktemp("evals")
    for name, extra in (("run", ()), ("other", OTHER_SPLIT)):
        code, output = invoke_cli("run", *shlex.split(CT), "--out", tmp / name, *extra)
        assert code == 0, output
    for name in ("a", "b"):
        write_series(tmp / name / "scan", head_volume(2, 32), predictor=None, spacing=250 / 32)
    return tmp


def test_eval_on_other_data_leaves_the_runs_eval_json_byte_identical(runs):
    """Before: `i2i eval RUN --data OTHER` overwrote RUN/eval.json and eval.csv, and the rebuilt
    report showed two head slices as the run's final result."""
    run = runs / "run"
    before = {name: (run / name).read_bytes() for name in ("eval.json", "eval.csv")}
    code, output = invoke_cli("eval", run, "--data", runs / "a" / "scan")
    assert code == 0, output
    assert {name: (run / name).read_bytes() for name in before} == before
    first = run / "evals" / "scan" / "eval.json"
    assert json.loads(first.read_text())["data"] == str(runs / "a" / "scan")
    assert f"wrote {first} and {first.with_suffix('.csv')} (results on other data go under evals/" in output
    again = invoke_cli("eval", run, "--data", runs / "a" / "scan", "--quiet")  # the same data: its own result again
    assert again == (0, f"{first}\n")
    other = invoke_cli("eval", run, "--data", runs / "b" / "scan", "--quiet")  # other data of the same name
    assert other == (0, f"{run / 'evals' / 'scan-2' / 'eval.json'}\n")
    assert json.loads(first.read_text())["data"] == str(runs / "a" / "scan")
    assert {name: (run / name).read_bytes() for name in before} == before


def test_split_from_scores_another_runs_held_out_split(runs):
    run, other = runs / "run", runs / "other"
    code, output = invoke_cli("eval", run, "--split-from", other, "--quiet")
    assert code == 0, output
    summary = json.loads((run / "evals" / "other" / "eval.json").read_text())
    assert summary["data_from"] == str(other) and summary["split"] == "test" and summary["images"] == 3
    own = json.loads((other / "eval.json").read_text())
    assert own["split"] == "test" and own["images"] == 3
    rows = list(csv.DictReader((run / "evals" / "other" / "eval.csv").open()))
    theirs = list(csv.DictReader((other / "eval.csv").open()))
    assert [r["path"] for r in rows] == [r["path"] for r in theirs]  # the same held-out images
    assert [r["input_psnr"] for r in rows] == [r["input_psnr"] for r in theirs]  # and the same inputs
    assert json.loads((run / "eval.json").read_text())["images"] == 2  # the model's own run has two
    both = invoke_cli("eval", run, "--split-from", other, "--data", runs / "a" / "scan")
    assert both[0] == 2 and "--data and --split-from both name the data" in both[1]


def test_eval_labels_every_metric_before_it_warns_after(runs):
    code, output = invoke_cli("eval", runs / "run", "--out", runs / "labelled.json")
    assert code == 0, output
    lines = output.splitlines()
    mae = next(line for line in lines if line.strip().startswith("mae "))
    mae_hu = next(line for line in lines if line.strip().startswith("mae_hu "))
    assert "mean absolute error in data units (HU for CT" in mae and "over the whole image" in mae
    assert "mean absolute error in HU inside the field of view" in mae_hu
    definitions = json.loads((runs / "labelled.json").read_text())["definitions"]
    assert definitions["mae_hu"] == "mean absolute error in HU inside the field of view"


def test_the_final_evaluation_names_its_checkpoint(runs, tmp_path):
    """Before: the final eval scored the newest checkpoint, whether or not it was the best, and
    said nothing about it."""
    import shutil

    from i2i.runs.rundir import write_best
    from i2i.workflow.finish import final_checkpoint

    summary = json.loads((runs / "run" / "eval.json").read_text())
    assert summary["checkpoint_choice"].startswith("step_00000002, the last checkpoint and the best by val_psnr")
    run = tmp_path / "run"
    shutil.copytree(runs / "run", run)
    shutil.copytree(run / "checkpoints" / "step_00000002", run / "checkpoints" / "step_00000004")
    (run / "checkpoints" / "step_00000004" / "trainer.json").write_text(
        (run / "checkpoints" / "step_00000002" / "trainer.json").read_text().replace('"step": 2', '"step": 4'))
    write_best(run, {"step": 2, "metric": "val_psnr", "value": 24.5, "folder": "step_00000002"})
    folder, line = final_checkpoint(run, "best")
    assert folder.name == "step_00000002"
    assert line == ('step_00000002, the best by val_psnr (24.5 at step 2); the last is step_00000004 '
                    '(train.final_eval_checkpoint = "last" scores that)')
    folder, line = final_checkpoint(run, "last")
    assert folder.name == "step_00000004" and "the last checkpoint, NOT the best: step_00000002 is the best" in line
    (run / "checkpoints" / "best.json").unlink()
    assert final_checkpoint(run, "best")[0].name == "step_00000004"
