"""``on_run_end``: the last event of ``i2i run``, after the final evaluation and report,
for completed, interrupted and failed runs alike."""

from __future__ import annotations

import os
import signal
import types
from pathlib import Path

import torch

from i2i import hookimpl
from i2i.losses import ReconstructionLoss
from tests.plugin_fixtures import process_plugins


def run_end_recorder():
    """A plugin recording ``on_train_end`` and ``on_run_end`` and what the run directory
    held when ``on_run_end`` came."""
    calls = []
    module = types.ModuleType("run_end_recorder")

    @hookimpl
    def on_train_end(trainer, step, status):
        calls.append(("on_train_end", status))

    @hookimpl
    def on_run_end(run_dir, status):
        calls.append(("on_run_end", status, sorted(p.name for p in Path(run_dir).iterdir())))

    module.on_train_end, module.on_run_end = on_train_end, on_run_end
    return module, calls


def test_on_run_end_comes_after_the_final_evaluation_and_report(cli, tiny_recipe, tmp_path):
    module, calls = run_end_recorder()
    with process_plugins([("recorder", module)]):
        result = cli("run", tiny_recipe, "--out", tmp_path / "run", "--quiet", "--set", "train.steps=2",
                     "--set", "data.test_fraction=0.2")
    assert result.exit_code == 0, result.output
    assert [c[:2] for c in calls] == [("on_train_end", "completed"), ("on_run_end", "completed")]
    assert {"eval.json", "eval.csv", "report.html"} <= set(calls[-1][2])


def test_on_run_end_for_an_interrupted_run(cli, tiny_recipe, tmp_path):
    module, calls = run_end_recorder()

    @hookimpl
    def on_step_end(trainer, step, logs):
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: the run stops after this step

    module.on_step_end = on_step_end
    with process_plugins([("recorder", module)]):
        result = cli("run", tiny_recipe, "--out", tmp_path / "run", "--quiet", "--set", "train.steps=4")
    assert result.exit_code == 130
    assert [c[:2] for c in calls] == [("on_train_end", "interrupted"), ("on_run_end", "interrupted")]


class NanLoss(ReconstructionLoss):
    """A reconstruction loss that is always NaN (the run stops at its first check)."""

    def __call__(self, output, target, weight=None):
        return (output - target).abs().mean() * torch.tensor(float("nan"))


def test_on_run_end_for_a_failed_run(tiny_recipe, tmp_path):
    from tests.conftest import invoke_cli

    module, calls = run_end_recorder()

    @hookimpl
    def register_losses(register):
        register("nan_loss", NanLoss)

    module.register_losses = register_losses
    with process_plugins([("recorder", module)]):
        code, output = invoke_cli("run", tiny_recipe, "--out", tmp_path / "run", "--quiet", "--set", "train.steps=2",
                                  "--set", 'losses.bad.name="nan_loss"')
    assert code == 1 and "became nan" in output
    assert [c[:2] for c in calls] == [("on_train_end", "failed"), ("on_run_end", "failed")]
