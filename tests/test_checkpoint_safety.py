"""Checkpoints a user can trust: --resume falls back past broken ones (issue 15, item 7), a
full disk leaves no partial folder (item 6), non-finite weights are never saved (item 3),
files have normal permissions (issue 11)."""

from __future__ import annotations

import errno
import json
import os

import pytest
import torch

from i2i.runs.checkpoint import list_checkpoints, read_tensors
from tests.conftest import CT_RECIPE, TINY_CT, invoke_cli, train_in_process

FOUR_STEPS = (*TINY_CT, "--set", "train.steps=4", "--set", "train.checkpoint_every=1", "--set", "train.log_every=1",
              "--set", "train.final_eval=false", "--quiet")


def losses(run) -> list[tuple[int, float]]:
    return [(r["step"], r["loss_g"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def test_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path):
    # i2i run --resume RUN   (newest checkpoint truncated, the one before lacking its trainer state)
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    for run in (straight, broken):
        code, output = invoke_cli("run", CT_RECIPE, *FOUR_STEPS, "--out", run)
        assert code == 0, output
    steps = {step: path for step, path in list_checkpoints(broken / "checkpoints")}
    weights = steps[4] / "generator.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    (steps[3] / "trainer.safetensors").unlink()
    code, output = invoke_cli("run", "--resume", broken, "--quiet")
    assert code == 0, output
    assert "skipping checkpoint step_00000004: generator.safetensors: not a readable safetensors file" in output
    assert "skipping checkpoint step_00000003: trainer.safetensors is missing" in output
    assert "resuming" in output and "from step_00000002 (step 2 of 4)" in output
    a, b = read_tensors(straight / "checkpoints" / "step_00000004" / "generator.safetensors"), read_tensors(weights)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert losses(broken) == losses(straight)


def test_weights_files_get_normal_permissions(tmp_path):
    # issue 11: weights files were written mode 0600
    old = os.umask(0o022)
    try:
        code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", tmp_path / "run", "--quiet",
                                  "--set", "train.final_eval=false")
    finally:
        os.umask(old)
    assert code == 0, output
    folder = tmp_path / "run" / "checkpoints" / "step_00000002"
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert modes == dict.fromkeys(modes, 0o644), modes


@pytest.mark.parametrize("error", ["ENOSPC", "SafetensorError"])
def test_full_disk_while_writing_a_checkpoint(tmp_path, monkeypatch, error):
    # a full disk while writing a checkpoint: a traceback, and its .tmp-step_* folder left behind;
    # red-team 7: safetensors raises SafetensorError (no OSError) for a full disk: still a traceback
    import i2i.atomic
    from safetensors import SafetensorError

    real = i2i.atomic._write_all

    def fill_up(path, f, data):
        if path.name == "generator.safetensors":  # medical_ct is supervised: no discriminator
            if error == "ENOSPC":
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "
                                  '"No space left on device" })')
        real(path, f, data)

    monkeypatch.setattr(i2i.atomic, "_write_all", fill_up)
    run = tmp_path / "run"
    code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", run, "--quiet")
    assert code == 1 and "Traceback" not in output, output
    assert "no space left on the device while writing checkpoint step_00000002" in output
    assert "train.keep_checkpoints = 3" in output and "the partial checkpoint was removed" in output
    assert not list((run / "checkpoints").glob(".tmp-*")) and not list_checkpoints(run / "checkpoints")
    assert not (run / ".i2i-run.lock").exists()


def test_non_finite_weights_are_never_saved(tmp_path):
    # i2i run R --set train.ema_decay=nan   (99.8 % NaN EMA weights saved, predict used them)
    from i2i.engine.trainer import NonFiniteLossError

    run = tmp_path / "run"
    trainer = train_in_process(CT_RECIPE, run, *TINY_CT[1::2], "train.ema_decay=0.9", "train.final_eval=false")
    with torch.no_grad():
        next(trainer.ema.module.parameters()).fill_(float("nan"))
    trainer.state.step = 3
    with pytest.raises(NonFiniteLossError) as err:
        trainer.save_checkpoint()
    assert "step 3: the weights hold NaN/infinite values (generator_ema " in str(err.value)
    assert "The last good checkpoint, step_00000002, is kept" in str(err.value)
    assert [s for s, _ in list_checkpoints(run / "checkpoints")] == [2]


class NanLoss:
    """A reconstruction loss that is NaN from the first step."""

    def __call__(self, output, target):
        return (output - target).abs().mean() * float("nan")


def test_nan_stop_without_a_checkpoint_does_not_claim_one_is_kept(tmp_path):
    # 12. the NaN-stop message said "the last good checkpoint is kept" when there was none
    import types

    from i2i import hookimpl
    from i2i.engine.trainer import NonFiniteLossError
    from i2i.plugins import load_plugins

    module = types.ModuleType("nan_loss_plugin")

    @hookimpl
    def register_losses(register):
        register("nan_now", NanLoss)

    module.register_losses = register_losses
    plugins = load_plugins(extra=[("nan_now", module)])
    with pytest.raises(NonFiniteLossError) as err:
        train_in_process(CT_RECIPE, tmp_path / "run", *TINY_CT[1::2], 'losses.bad.name="nan_now"', plugins=plugins)
    text = str(err.value)
    assert "loss loss_g_bad became nan at step 1" in text and "No checkpoint was written before" in text
    assert "last good checkpoint" not in text


def test_checkpoint_written_at_a_new_best_holds_that_best(tmp_path):
    # found by benchmarks/kill_resume.py: a resume from the checkpoint of a new best step forgot the
    # best (its state was saved before the best was recorded), so later choices of the best differed
    from i2i.runs.checkpoint import read_trainer_state

    run = tmp_path / "run"
    code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", run, "--quiet", "--set", "train.final_eval=false",
                              "--set", "train.steps=3", "--set", "train.checkpoint_every=3", "--set", "train.val_every=3")
    assert code == 0, output
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    assert best["folder"] == "step_00000003"
    assert read_trainer_state(run / "checkpoints" / "step_00000003")["best"] == best
