"""Exact resume, crash safety (kill -9), checkpoint contents and refusal of foreign checkpoints."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from i2i.runs.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_weights,
    read_metadata,
    read_tensors,
    read_trainer_state,
)
from tests.conftest import ROOT, train_in_process

# dropout, random crops and flips, batch norm, EMA and the image pool all draw random numbers
STATEFUL = ("train.ema_decay=0.9", "train.pool_size=3")


def generator_weights(run: Path) -> dict[str, torch.Tensor]:
    return read_tensors(latest_checkpoint(run / "checkpoints") / "generator.safetensors")


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel())


@pytest.fixture
def straight(tiny_recipe, tmp_path):
    out = tmp_path / "straight"
    train_in_process(tiny_recipe, out, "train.steps=8", *STATEFUL)
    return out


def test_stop_at_4_then_resume_to_8_equals_8_straight(tiny_recipe, tmp_path, straight):
    out = tmp_path / "resumed"
    train_in_process(tiny_recipe, out, "train.steps=4", *STATEFUL)
    trainer = train_in_process(tiny_recipe, out, "train.steps=8", *STATEFUL, resume=True)
    assert trainer.step == 8
    assert max_difference(generator_weights(straight), generator_weights(out)) < 1e-6
    ema_a = read_tensors(latest_checkpoint(straight / "checkpoints") / "generator_ema.safetensors")
    ema_b = read_tensors(latest_checkpoint(out / "checkpoints") / "generator_ema.safetensors")
    assert max_difference(ema_a, ema_b) < 1e-6
    # metrics.jsonl holds each step once, in order
    steps = [r["step"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss_g" in r]
    assert steps == list(range(1, 9))


def test_checkpoint_contents_and_rotation(straight):
    folders = list_checkpoints(straight / "checkpoints")
    assert [step for step, _ in folders] == [4, 6, 8]  # every 2 steps, the newest 3 kept
    last = folders[-1][1]
    names = {p.name for p in last.iterdir()}
    assert names == {"generator.safetensors", "discriminator.safetensors", "generator_ema.safetensors",
                     "trainer.safetensors", "trainer.json"}
    meta = read_metadata(last / "generator.safetensors")
    assert meta["component"] == "unet" and meta["role"] == "generator" and meta["step"] == "8"
    assert json.loads(meta["recipe"])["generator"]["depth"] == 6 and "i2i_version" in meta
    state = read_trainer_state(last)
    assert state["step"] == 8 and {"opt_g", "opt_d", "rng", "schedule", "pool"} <= set(state)
    first_param = next(iter(read_tensors(last / "generator.safetensors").values()))
    assert state["opt_g"]["state"][0]["exp_avg"].shape == first_param.shape
    assert not any(p.name.endswith(".pkl") or p.suffix in (".pt", ".pth") for p in last.iterdir())


def test_keep_last_n(tiny_recipe, tmp_path):
    out = tmp_path / "keep"
    train_in_process(tiny_recipe, out, "train.steps=8", "train.checkpoint_every=1", "train.keep_checkpoints=2")
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [7, 8]


def test_best_checkpoint_survives_rotation(tiny_recipe, tmp_path):
    out = tmp_path / "best"
    train_in_process(tiny_recipe, out, "train.steps=6", "train.checkpoint_every=1", "train.keep_checkpoints=1",
                     "data.val_fraction=0.02", "train.val_every=1", 'train.best_metric="val_psnr"')
    best = json.loads((out / "checkpoints" / "best.json").read_text())
    values = [r["val_psnr"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
              if "val_psnr" in r]
    assert best["value"] == pytest.approx(max(values))
    kept = {p.name for _, p in list_checkpoints(out / "checkpoints")}
    assert best["folder"] in kept and "step_00000006" in kept


def test_foreign_architecture_is_rejected_naming_tensors(straight, tmp_path):
    from i2i.plugins import get_plugins

    other = get_plugins()["generators"].build("unet", {"depth": 6, "ngf": 8}, in_channels=3, out_channels=3)
    with pytest.raises(CheckpointError) as err:
        load_weights(other, latest_checkpoint(straight / "checkpoints") / "generator.safetensors")
    text = str(err.value)
    assert "does not fit the model" in text and "shape mismatches: model.model.0.weight" in text
    assert "checkpoint made by component 'unet'" in text


def test_resume_with_a_changed_architecture_is_refused(tiny_recipe, straight):
    from i2i.errors import UsageError

    with pytest.raises(UsageError, match="different recipe"):
        train_in_process(tiny_recipe, straight, "train.steps=9", *STATEFUL, "generator.ngf=8", resume=True)


def _run(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "i2i", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow
def test_kill_9_leaves_a_loadable_checkpoint_and_resume_is_exact(tiny_recipe, tmp_path):
    steps = "train.steps=40"
    reference = tmp_path / "reference"
    train_in_process(tiny_recipe, reference, steps, "train.checkpoint_every=1", "train.keep_checkpoints=2")
    out = tmp_path / "killed"
    proc = _run("run", tiny_recipe, "--set", steps, "--set", "train.checkpoint_every=1",
                "--set", "train.keep_checkpoints=2", "--out", out, "--quiet")
    deadline = time.time() + 120
    while time.time() < deadline and len(list_checkpoints(out / "checkpoints")) < 1:
        time.sleep(0.05)
    time.sleep(0.3)  # land somewhere in the middle of later steps / writes
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    last = latest_checkpoint(out / "checkpoints")
    assert last is not None and 0 < read_trainer_state(last)["step"] < 40
    resumed = subprocess.run([sys.executable, "-m", "i2i", "run", "--resume", str(out), "--quiet"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert not list((out / "checkpoints").glob(".tmp-*"))
    assert max_difference(generator_weights(reference), generator_weights(out)) < 1e-6


def test_sigterm_saves_a_checkpoint_and_exits_130(tiny_recipe, tmp_path):
    out = tmp_path / "term"
    proc = _run("run", tiny_recipe, "--set", "train.steps=100000", "--set", "train.checkpoint_every=100000",
                "--out", out, "--quiet")
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "metrics.jsonl").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    state = read_trainer_state(latest_checkpoint(out / "checkpoints"))
    assert 0 < state["step"] < 100000 and f"i2i run --resume {out}" in err


def test_resume_without_checkpoint_restarts_from_step_0(tiny_recipe, tmp_path, cli):
    # i2i run --resume RUN  (RUN holds recipe.toml but no checkpoint: killed before its first one)
    from i2i.runs.rundir import RUN_MARKER

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "recipe.toml").write_text(tiny_recipe.read_text())
    refused = cli("run", "--resume", tmp_path / "empty", "--quiet")  # issue 21: only i2i's run folders restart
    assert refused.exit_code == 2 and f"no {RUN_MARKER} marker in it" in refused.output
    (tmp_path / "empty" / RUN_MARKER).write_text("{}")  # what the run wrote when it started
    result = cli("run", "--resume", tmp_path / "empty", "--quiet")
    assert result.exit_code == 0 and "no checkpoint: it stopped before its first one; starting the run again " \
        "from step 0" in result.output
    assert read_trainer_state(latest_checkpoint(tmp_path / "empty" / "checkpoints"))["step"] == 4
    result = cli("run", "--resume", tmp_path / "nothing")
    assert result.exit_code == 2 and "not a run directory" in result.output


def test_a_channels_last_resume_is_bit_exact_and_keeps_the_moments_layout(tiny_recipe, tmp_path):
    # issue 19: Adam's moments came back contiguous for channels-last parameters: 7.3e-4 off two
    # steps after a resume on CPU (CUDA's fused Adam refuses the strides outright)
    sets = ('train.channels_last="on"', *STATEFUL)
    train_in_process(tiny_recipe, tmp_path / "straight", "train.steps=6", *sets)
    train_in_process(tiny_recipe, tmp_path / "resumed", "train.steps=4", *sets)
    trainer = train_in_process(tiny_recipe, tmp_path / "resumed", "train.steps=6", *sets, resume=True)
    assert max_difference(generator_weights(tmp_path / "straight"), generator_weights(tmp_path / "resumed")) == 0
    optimizer = trainer.parts.opt_g
    for group in optimizer.param_groups:
        for param in group["params"]:
            for value in optimizer.state[param].values():
                if isinstance(value, torch.Tensor) and value.shape == param.shape:
                    assert value.stride() == param.stride()
