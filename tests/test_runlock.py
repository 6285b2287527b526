"""One process per run directory (issue 15, item 1): the lock, its holder named, stale locks,
and cleanup that touches only the process's own temporary files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from i2i.runs.checkpoint import CheckpointWriter
from i2i.runs.lock import LOCK_NAME, RunInUse, RunLock, holder_of
from tests.conftest import CT_RECIPE, ROOT, TINY_CT, invoke_cli, run_i2i


def test_lock_is_exclusive_names_its_holder_and_is_released(tmp_path):
    run = tmp_path / "run"
    with RunLock(run) as lock:
        assert lock.stale is None and holder_of(run).pid == os.getpid()
        with pytest.raises(RunInUse, match=f"in use by process {os.getpid()} on "):
            RunLock(run).acquire()
    assert holder_of(run) is None and not (run / LOCK_NAME).exists()
    assert not run.exists()  # the lock created the folder and nothing filled it


def test_resume_while_the_run_is_alive_is_refused_and_touches_nothing(tmp_path):
    # i2i run R --out RUN & i2i run --resume RUN   (trained twice into one folder: 1559 rows for 1500 steps)
    run = tmp_path / "run"
    code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", run, "--set", "train.final_eval=false", "--quiet")
    assert code == 0, output
    before = (run / "metrics.jsonl").read_text()
    with RunLock(run):  # this test process is the live run
        code, output = invoke_cli("run", "--resume", run)
        assert code == 2 and f"in use by process {os.getpid()}" in output, output
        code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", run)
        assert code == 2 and f"is in use by process {os.getpid()}" in output, output
    assert (run / "metrics.jsonl").read_text() == before


def test_two_processes_one_run_directory(tmp_path):
    # i2i run recipes/medical_ct.toml --out RUN &  then  i2i run --resume RUN
    run = tmp_path / "run"
    steps = 200
    live = subprocess.Popen([sys.executable, "-m", "i2i", "run", str(CT_RECIPE), *TINY_CT, "--out", str(run),
                             "--set", f"train.steps={steps}", "--set", "train.log_every=1",
                             "--set", "train.checkpoint_every=50", "--set", "train.final_eval=false", "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.02)
    os.kill(live.pid, signal.SIGSTOP)  # keep it alive (and holding its lock) while the second one tries
    try:
        second = run_i2i("run", "--resume", run, "--quiet")
    finally:
        os.kill(live.pid, signal.SIGCONT)
    _, err = live.communicate(timeout=300)
    assert second.returncode == 2, second.stderr
    assert f"in use by process {live.pid}" in second.stderr and "Traceback" not in second.stderr
    assert live.returncode == 0 and f"completed: step {steps}/{steps}" in err, err
    steps_logged = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps_logged == list(range(1, steps + 1))
    assert not (run / LOCK_NAME).exists()


def test_stale_lock_of_a_killed_run_is_taken_over_and_reported(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (run / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": "h", "started": "then", "command": "i2i run R"}))
    lock = RunLock(run).acquire()
    try:
        assert lock.stale is not None and lock.stale.pid == pid
        assert json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()
    finally:
        lock.release()
    (run / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": "h", "started": "then", "command": "i2i run R"}))
    code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", run, "--set", "train.final_eval=false", "--quiet")
    assert code == 0 and f"taking over the lock left by process {pid} on h (i2i run R" in output, output


def test_partial_checkpoints_of_a_live_writer_are_left_alone(tmp_path):
    folder = tmp_path / "checkpoints"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    mine = folder / f".tmp-step_00000003-{os.getpid()}"
    killed = folder / f".tmp-step_00000002-{int(dead.stdout)}"
    live = folder / f".tmp-step_00000004-{os.getppid()}"
    for path in (mine, killed, live):
        path.mkdir(parents=True)
    CheckpointWriter(folder).remove_partial()
    assert not mine.exists() and not killed.exists() and live.exists()
