"""A run killed before its first checkpoint restarts cleanly (issue 15, item 8), and --out
means something with --resume (item 12)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

from i2i.runs.checkpoint import latest_checkpoint, read_trainer_state
import pytest

from tests.conftest import CT_RECIPE, ROOT, TINY_CT, invoke_cli

QUICK = (*TINY_CT, "--set", "train.final_eval=false", "--set", "train.log_every=1", "--quiet")


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """What a run killed before its first checkpoint leaves: its recipe, some metrics, a lock."""
    run = tmp_path_factory.mktemp("killed") / "run"
    proc = subprocess.Popen([sys.executable, "-m", "i2i", "run", str(CT_RECIPE), *QUICK, "--out", str(run),
                             "--set", "train.steps=100000", "--set", "train.checkpoint_every=100000",
                             "--set", "train.val_every=100000", "--set", "train.sample_every=1"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list((run / "samples").glob("step_*.png")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run / "recipe.toml").exists() and (run / ".i2i-run.lock").exists()
    assert latest_checkpoint(run / "checkpoints") is None
    return run


def killed_before_first_checkpoint(killed_run, run) -> None:
    shutil.copytree(killed_run, run)


def logged_steps(run) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_rerun_into_the_folder_of_a_run_killed_before_its_first_checkpoint(killed_run, tmp_path):
    # i2i run R --out RUN, kill -9 before the first checkpoint, i2i run R --out RUN  (said "use --resume")
    run = tmp_path / "run"
    killed_before_first_checkpoint(killed_run, run)
    code, output = invoke_cli("run", CT_RECIPE, *QUICK, "--out", run)
    assert code == 0, output
    assert "the run there stopped before its first checkpoint; starting it again from step 0" in output
    assert "taking over the lock left by process" in output
    assert logged_steps(run) == [1, 2]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_00000002.png"]


def test_resume_of_a_run_killed_before_its_first_checkpoint(killed_run, tmp_path):
    # i2i run R --out RUN, kill -9 before the first checkpoint, i2i run --resume RUN  (said "no checkpoint")
    run = tmp_path / "run"
    killed_before_first_checkpoint(killed_run, run)
    code, output = invoke_cli("run", "--resume", run, "--set", "train.steps=2", "--quiet")
    assert code == 0, output
    assert "no checkpoint: it stopped before its first one; starting the run again from step 0" in output
    assert logged_steps(run) == [1, 2]
    assert read_trainer_state(latest_checkpoint(run / "checkpoints"))["step"] == 2


def test_resume_takes_the_run_directory_from_out(tmp_path):
    # i2i run R --resume --out RUN   (--out was ignored: the newest run of R was resumed instead)
    run = tmp_path / "run"
    code, output = invoke_cli("run", CT_RECIPE, *QUICK, "--out", run)
    assert code == 0, output
    code, output = invoke_cli("run", CT_RECIPE, "--resume", "--out", run, *QUICK, "--set", "train.steps=3")
    assert code == 0 and f"resuming {run} from step_00000002" in output, output
    assert logged_steps(run) == [1, 2, 3]
