"""Supervised mode trains no discriminator at all, and every GAN run watches its
discriminator: its health is logged, and one warning says when it is inert."""

from __future__ import annotations

import json
import types

import torch
from torch import nn

from i2i import hookimpl
from i2i.engine.gan_health import GanHealth
from i2i.plugins import load_plugins
from i2i.recipe import load_recipe
from tests.conftest import train_in_process


def rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_supervised_mode_builds_and_steps_no_discriminator(tiny_recipe, tmp_path, capfd):
    run = tmp_path / "run"
    recipe = load_recipe(tiny_recipe, ['train.mode="supervised"'])
    assert recipe.discriminator is None and [loss.label for loss in recipe.losses] == ["l1"]
    trainer = train_in_process(tiny_recipe, run, 'train.mode="supervised"', "train.steps=3")
    assert trainer.discriminator is None and trainer.parts.opt_d is None and trainer.parts.gan_step.objective is None
    assert sum(p.numel() for net in (trainer.parts.generator,) for p in net.parameters()) > 0
    logged = rows(run)
    assert logged and all(not any(k.startswith(("loss_d", "gan_")) for k in r) for r in logged)
    assert {p.name for p in (run / "checkpoints" / "step_00000003").iterdir()} == {
        "generator.safetensors", "trainer.safetensors", "trainer.json"}
    assert "[discriminator]\nname = \"none\"" in (run / "recipe.toml").read_text()
    assert "discriminator" not in capfd.readouterr().err


class ConstantD(nn.Module):
    """A discriminator that says 0.5 to everything: an inert one."""

    receptive_field = 1

    def __init__(self, in_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x[:, :1] * 0 + 0.5 + self.weight * 0


def test_an_inert_discriminator_is_logged_and_warned_about_once(tiny_recipe, tmp_path, capfd):
    module = types.ModuleType("inert_plugin")

    @hookimpl
    def register_discriminators(register):
        register("constant", ConstantD)

    module.register_discriminators = register_discriminators
    run = tmp_path / "run"
    train_in_process(tiny_recipe, run, 'discriminator.name="constant"', "train.steps=8",
                     plugins=load_plugins(extra=[("inert", module)]))
    logged = [r for r in rows(run) if "gan_d_real" in r]
    # the tiny recipe's vanilla GAN reads the logit 0.5 as the probability sigmoid(0.5), on real and fake alike
    assert len(logged) == 8 and all(r["gan_d_real"] == r["gan_d_fake"] == torch.sigmoid(torch.tensor(0.5)).item()
                                    for r in logged)
    assert all(r["gan_d_accuracy"] == 0.5 for r in logged)
    err = capfd.readouterr().err
    assert err.count("the discriminator is inert") == 1 and 'train.mode = "supervised"' in err


def test_a_learning_discriminator_gets_no_warning_and_a_collapse_one():
    health = GanHealth(total_steps=100)
    learning = [{"step": s, "gan_d_real": 0.6, "gan_d_fake": 0.4, "gan_d_accuracy": 0.7, "loss_d": 0.2}
                for s in range(10, 100, 10)]
    assert [health.observe(r) for r in learning] == [None] * len(learning)
    collapsed = [{"step": s, "gan_d_real": 1.0, "gan_d_fake": 0.0, "gan_d_accuracy": 1.0, "loss_d": 1e-5}
                 for s in range(10, 60, 10)]
    messages = [health.observe(r) for r in collapsed]
    assert messages[:2] == [None, None] and "has collapsed" in messages[2] and messages[3:] == [None, None]
