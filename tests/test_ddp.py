"""Two-process DistributedDataParallel on CPU (gloo), launched as a user would."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict

import pytest

from i2i.data.sampler import EpochBatchSampler
from i2i.runs.checkpoint import list_checkpoints, read_trainer_state
from tests.conftest import ROOT


def test_sampler_shards_are_disjoint_and_equal():
    a = EpochBatchSampler(101, batch_size=4, seed=3, rank=0, world_size=2)
    b = EpochBatchSampler(101, batch_size=4, seed=3, rank=1, world_size=2)
    for epoch in range(3):
        ia = [i for batch in a.epoch_batches(epoch) for i in batch]
        ib = [i for batch in b.epoch_batches(epoch) for i in batch]
        assert len(ia) == len(ib) == 48 and not set(ia) & set(ib)
    a.set_position(1, 5)
    assert list(a) == a.epoch_batches(1)[5:] and len(a) == 12 - 5


@pytest.mark.slow
def test_two_process_gloo_run(tiny_recipe, tmp_path):
    out, trace = tmp_path / "ddp", tmp_path / "trace"
    result = subprocess.run(
        [sys.executable, "-m", "i2i", "run", str(tiny_recipe), "--nproc", "2", "--out", str(out), "--quiet",
         "--set", "train.steps=6", "--set", "train.checkpoint_every=3", "--set", "train.log_every=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "I2I_TRACE_SAMPLES": str(trace)})
    assert result.returncode == 0, result.stderr
    # one set of checkpoints, written by rank 0, recording both ranks' RNG states
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [3, 6]
    state = read_trainer_state(list_checkpoints(out / "checkpoints")[-1][1])
    assert state["world_size"] == 2 and len(state["rank_rngs"]["cpu"]) == 2
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 7))  # rank 0 alone logs
    for r in records:
        assert all(math.isfinite(r[k]) for k in ("loss_d", "loss_g", "loss_g_l1"))
    # the data each rank sees are disjoint within an epoch, and each rank saw batch_size x steps images
    seen = {rank: defaultdict(list) for rank in (0, 1)}
    for rank in (0, 1):
        for line in (trace / f"rank{rank}.txt").read_text().splitlines():
            epoch, path = line.split("\t")
            seen[rank][epoch].append(path)
    assert sum(len(v) for v in seen[0].values()) == sum(len(v) for v in seen[1].values()) == 12
    for epoch in seen[0]:
        assert not set(seen[0][epoch]) & set(seen[1][epoch])


@pytest.mark.slow
def test_two_process_resume_is_exact(tiny_recipe, tmp_path):
    from i2i.runs.checkpoint import latest_checkpoint, read_tensors

    def run(out, steps, *extra):
        result = subprocess.run(
            [sys.executable, "-m", "i2i", "run", *extra, "--nproc", "2", "--quiet", "--set", f"train.steps={steps}",
             "--set", "train.checkpoint_every=2"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run(straight, 4, str(tiny_recipe), "--out", str(straight))
    run(resumed, 2, str(tiny_recipe), "--out", str(resumed))
    run(resumed, 4, "--resume", str(resumed))
    a = read_tensors(latest_checkpoint(straight / "checkpoints") / "generator.safetensors")
    b = read_tensors(latest_checkpoint(resumed / "checkpoints") / "generator.safetensors")
    assert max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel()) < 1e-6


def ddp_run(tmp_path, recipe, out, *sets, env=None, timeout=300):
    """``i2i run RECIPE --nproc 2`` (gloo); a hang fails after ``timeout`` seconds instead of forever."""
    import os

    command = [sys.executable, "-m", "i2i", "run", str(recipe), "--nproc", "2", "--out", str(out), "--quiet"]
    for item in sets:
        command += ["--set", item]
    env = {**os.environ, "I2I_DIST_TIMEOUT": "120", **(env or {})}
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_ddp_new_best_off_a_checkpoint_step_and_plateau_keep_the_replicas_equal(tiny_recipe, tmp_path):
    # issue 19: a new best on a step that is no checkpoint step made rank 0 alone enter the
    # checkpoint's collective (a hang); plateau lowered rank 0's learning rate alone (drift)
    out = tmp_path / "ddp"
    result = ddp_run(tmp_path, tiny_recipe, out, "train.steps=6", "train.checkpoint_every=4", "train.val_every=3",
                     'train.best_metric="val_mae"', "data.val_fraction=0.25", 'schedule.name="plateau"',
                     'schedule.metric="val_psnr"', "schedule.patience=0", "schedule.threshold=10.0")
    assert result.returncode == 0, result.stderr[-3000:]
    steps = [s for s, _ in list_checkpoints(out / "checkpoints")]
    assert 3 in steps and 6 in steps  # the step-3 validation's best, off the checkpoint steps (4, 6)
    best = json.loads((out / "checkpoints" / "best.json").read_text())
    assert best["step"] in (3, 6)
    state = read_trainer_state(list_checkpoints(out / "checkpoints")[-1][1])
    replicas = state["replicas"]  # [weights sum, sum of squares, learning-rate factor] by rank
    assert len(replicas) == 2 and replicas[0] == replicas[1]
    assert replicas[0][2] < 1.0  # plateau did lower the rate (threshold 10: no pass improves enough)
    assert "replicas" not in result.stderr


STOP_PLUGIN = """
    import os
    import signal

    from i2i import hookimpl

    @hookimpl
    def on_step_end(trainer, step, logs):
        if step == 4:
            os.kill(os.getpid(), signal.SIGTERM)
"""


@pytest.mark.slow
def test_ddp_stop_at_a_checkpoint_step_ends_every_rank(tiny_recipe, tmp_path):
    # issue 19: the ranks disagreed about whether the step had been saved and hung in mismatched collectives
    from tests.plugin_fixtures import make_distribution

    site = make_distribution(tmp_path / "site", "i2i-stopper", "stopper", "i2i_stopper", STOP_PLUGIN)
    import os

    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "ddp"
    result = ddp_run(tmp_path, tiny_recipe, out, "train.steps=8", "train.checkpoint_every=2", env=env)
    assert result.returncode == 130, result.stderr[-3000:]
    assert [s for s, _ in list_checkpoints(out / "checkpoints")][-1] == 4
    assert f"continue with: i2i run --resume {out}" in result.stderr


@pytest.mark.slow
def test_a_run_saved_by_two_processes_resumes_with_one(tiny_recipe, tmp_path):
    # issue 19: a resume with fewer devices than at save time failed (IndexError in the RNG restore)
    out = tmp_path / "ddp"
    assert ddp_run(tmp_path, tiny_recipe, out, "train.steps=4").returncode == 0
    result = subprocess.run([sys.executable, "-m", "i2i", "run", "--resume", str(out), "--quiet",
                             "--set", "train.steps=6"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "was saved by 2 process(es) and resumes with 1" in result.stderr
    assert read_trainer_state(list_checkpoints(out / "checkpoints")[-1][1])["step"] == 6
