"""Two-process DistributedDataParallel on CPU (gloo), launched as a user would."""

from __future__ import annotations

import pytest

import json
import math
import subprocess
import sys
from collections import defaultdict

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
