"""A third-party plugin can add a task and a data source and train with them, with its
options checked like built-ins'."""

from __future__ import annotations

import types
from typing import Literal

import pytest
import torch

from i2i import hookimpl
from i2i.data import Source
from i2i.errors import RecipeError
from i2i.plugins import load_plugins
from i2i.recipe import load_recipe
from i2i.tasks import Task
from tests.conftest import train_in_process


class GradientDataset(torch.utils.data.Dataset):
    def __init__(self, count: int, size: int):
        self.count, self.size = count, size

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        ramp = torch.linspace(0, 255, self.size).round().to(torch.uint8)
        image = ramp.view(1, 1, -1).expand(1, self.size, -1).roll(index, dims=-1).contiguous()
        return {"target": image, "path": f"gradient-{index}"}


class GradientSource(Source):
    """Synthetic horizontal ramps (no files)."""

    def __init__(self, count: int = 8, size: int = 32):
        self.count, self.size = count, size

    def dataset(self, split):
        return GradientDataset(self.count, self.size)


class InvertTask(Task):
    """Learn to invert (or not) grey images."""

    recipe_defaults = {"data": {"source": "gradients", "preprocess": "none"},
                       "losses": {"l1": {"name": "l1", "weight": 1.0}}}

    def __init__(self, mode: Literal["invert", "copy"] = "invert"):
        super().__init__(1, 1)
        self.mode = mode

    def expected_channels(self):
        return {"target": 1}

    def make_pair(self, batch, train):
        y = self.encode_target(batch["target"])
        return (-y if self.mode == "invert" else y), y


def plugin():
    module = types.ModuleType("synthetic_plugin")

    @hookimpl
    def register_sources(register):
        register("gradients", GradientSource)

    @hookimpl
    def register_tasks(register):
        register("invert", InvertTask)

    module.register_sources, module.register_tasks = register_sources, register_tasks
    return load_plugins(extra=[("synthetic", module)])


def test_third_party_task_and_source_train(tmp_path):
    plugins = plugin()
    recipe = tmp_path / "r.toml"
    recipe.write_text('[task]\nname = "invert"\n[generator]\nname = "unet"\ndepth = 5\nngf = 4\n'
                      '[discriminator]\nname = "none"\n[train]\nsteps = 3\nbatch_size = 2\n')
    trainer = train_in_process(recipe, tmp_path / "run", plugins=plugins)
    assert trainer.step == 3 and trainer.task.in_channels == 1
    assert plugins["tasks"].get("invert").plugin == "synthetic"


def test_third_party_options_are_validated(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[task]\nname = "invert"\nmode = "flip"\n[data]\ncount = "many"\n[train]\nsteps = 1\n')
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe, plugins=plugin())
    text = str(err.value)
    assert "task.mode: expected one of 'invert', 'copy', got 'flip'" in text
    assert "data.count: expected an integer, got 'many'" in text
