"""Schedules, optimisers and file formats come in through hooks like every component: a
third-party plugin, installed as a distribution, registers one of each, and ``i2i run`` and
``i2i predict`` use them, their options checked against their signatures."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.runs.checkpoint import latest_checkpoint, read_trainer_state
from i2i.plugins import get_plugins
from tests.plugin_fixtures import make_distribution

PLUGIN = '''
    from typing import Annotated

    import numpy as np
    import torch
    from annotated_types import Gt

    from i2i import hookimpl
    from i2i.engine.schedule import Schedule
    from i2i.inference.formats import Decoded, Format


    class Halving(Schedule):
        """Halves the learning rates every ``every`` steps."""

        def __init__(self, every: Annotated[int, Gt(0)] = 1):
            self.every = every
            self.passes = 0

        def shape(self, step):
            return 0.5 ** (step // self.every)

        def observe(self, metrics):
            self.passes += 1

        def state_dict(self):
            return {"passes": self.passes, "every": self.every}

        def load_state_dict(self, state):
            self.passes = state["passes"]


    def sgd(params, lr: Annotated[float, Gt(0)] = 0.01, momentum: float = 0.0):
        """Plain SGD."""
        return torch.optim.SGD(params, lr=lr, momentum=momentum)


    def read_thing(path):
        return Decoded(path, torch.from_numpy(np.load(path)))


    def thing(scale: float = 1.0):
        """Raw arrays: the output in data units times ``scale``."""
        def write(path, image, like):
            with open(path, "wb") as f:
                np.save(f, image.numpy() * scale)

        return Format("thing", (".thing",), read_thing, write)


    @hookimpl
    def register_schedules(register):
        register("halving", Halving)


    @hookimpl
    def register_optimizers(register):
        register("sgd", sgd)


    @hookimpl
    def register_formats(register):
        register("thing", thing)
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The plugin installed (a dist-info on sys.path), the process's plugins reloaded with it."""
    site = make_distribution(tmp_path_factory.mktemp("site"), "i2i-extras", "extras", "i2i_extras_plugin", PLUGIN)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(site))
        patch.delenv("I2I_LOAD_PLUGINS", raising=False)
        get_plugins.cache_clear()
        yield get_plugins()
    get_plugins.cache_clear()
    sys.modules.pop("i2i_extras_plugin", None)


@pytest.fixture(scope="module")
def run_dir(installed, tmp_path_factory, synthetic_pairs):
    from click.testing import CliRunner

    from i2i.cli import cli
    from tests.conftest import TINY_RECIPE

    folder = tmp_path_factory.mktemp("extras_run")
    recipe = folder / "tiny.toml"
    recipe.write_text(TINY_RECIPE.format(root=synthetic_pairs.as_posix()))
    result = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(folder / "run"), "--quiet", "--set",
                                      'schedule.name="halving"', "--set", "schedule.every=2", "--set",
                                      'optim.name="sgd"', "--set", "optim.lr_d=0.02", "--set", "optim.momentum=0.5"])
    assert result.exit_code == 0, result.output
    return folder / "run"


def test_listed_and_attributed(installed, cli):
    infos = {info["name"]: info for info in json.loads(cli("list-plugins", "--json").output)}
    assert infos["extras"]["components"] == {"formats": ["thing"], "optimizers": ["sgd"], "schedules": ["halving"]}
    assert infos["i2i.formats"]["components"]["formats"] == ["bmp", "dicom", "jpeg", "nifti", "npy", "png", "tiff",
                                                            "webp"]
    assert infos["i2i.schedules"]["builtin"] and infos["i2i.optimizers"]["components"] == {
        "optimizers": ["adam", "adamw"]}
    assert installed["schedules"].get("halving").plugin == "extras"


def test_a_run_uses_the_plugins_schedule_and_optimiser(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr_g"] for r in records] == pytest.approx([0.01, 0.01, 0.005, 0.005])
    assert [r["lr_d"] for r in records] == pytest.approx([0.02, 0.02, 0.01, 0.01])
    state = read_trainer_state(latest_checkpoint(run_dir / "checkpoints"))
    assert state["schedule"] == {"passes": 0, "every": 2}
    assert "momentum_buffer" in next(iter(state["opt_g"]["state"].values()))  # SGD's state, not Adam's
    written = (run_dir / "recipe.toml").read_text()
    assert '[schedule]\nname = "halving"\nevery = 2\n' in written
    assert 'name = "sgd"\nlr_g = 0.01\nlr_d = 0.02\nmomentum_g = 0.5\nmomentum_d = 0.5\n' in written


def test_predict_reads_and_writes_the_plugins_format(run_dir, tmp_path, cli):
    image = (torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(3)) * 255).round().to(torch.uint8)
    np.save(tmp_path / "in.npy", image.numpy())
    (tmp_path / "in.npy").rename(tmp_path / "in.thing")
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / "in.png")
    result = cli("predict", run_dir, tmp_path / "in.thing", tmp_path / "in.png", "--out", tmp_path / "out",
                 "--format-option", "scale=2")
    assert result.exit_code == 2 and "--format-option scale: format 'png' has no option 'scale'" in result.output
    assert cli("predict", run_dir, tmp_path / "in.thing", "--out", tmp_path / "out", "--format-option",
               "scale=2").exit_code == 0
    assert cli("predict", run_dir, tmp_path / "in.png", "--out", tmp_path / "png").exit_code == 0
    thing = np.load(tmp_path / "out" / "in.thing")
    png = np.asarray(Image.open(tmp_path / "png" / "in.png")).transpose(2, 0, 1).astype(np.float64)
    assert thing.shape == (3, 40, 40) and thing.dtype == np.float32
    assert np.abs(thing / 2 * 255 - png).max() <= 0.5 + 1e-3  # the same prediction, x2, unquantised


def test_unknown_options_name_what_is_accepted(run_dir, tmp_path, cli):
    from i2i.errors import RecipeError
    from i2i.recipe import load_recipe

    with pytest.raises(RecipeError) as err:
        load_recipe(run_dir / "recipe.toml", ["schedule.evry=3", "optim.momentun=0.9", "optim.lr_x=1"])
    text = str(err.value)
    assert "schedule.evry: schedule 'halving' has no option 'evry' (did you mean 'every'?); it accepts: 'every'" in text
    assert "optim.momentun: optimizer 'sgd' has no option 'momentun' (did you mean 'momentum'" in text
    assert "optim.lr_x: optimizer 'sgd' has no option 'lr_x'" in text and "it accepts: 'lr', 'momentum'" in text
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "in.png")
    result = cli("predict", run_dir, tmp_path / "in.png", "--out", tmp_path / "o", "--ext", "thing",
                 "--format-option", "scal=2")
    assert result.exit_code == 2
    assert "--format-option scal: format 'thing' has no option 'scal' (did you mean 'scale'?); it accepts: 'scale'" \
        in result.output


def test_a_schedule_with_factor_alone_gets_the_rest():
    import types

    from i2i import hookimpl
    from i2i.assembly.components import build_schedule
    from i2i.errors import UsageError
    from i2i.plugins import load_plugins
    from i2i.recipe import ComponentSpec

    class Bare:
        def factor(self, step):
            return 1 / (step + 1)

    module = types.ModuleType("bare_schedule_plugin")

    @hookimpl
    def register_schedules(register):
        register("bare", Bare)
        register("broken", lambda: object())

    module.register_schedules = register_schedules
    plugins = load_plugins(extra=[("bare", module)])
    schedule = build_schedule(plugins, ComponentSpec("bare", {}), 10)
    schedule.observe({"val_mae": 1.0})
    schedule.load_state_dict(schedule.state_dict())
    assert schedule.state_dict() == {} and schedule.factor(3) == 0.25
    with pytest.raises(UsageError, match=r"schedule 'broken' \(plugin 'bare'\): its factory returned object, which "
                                         r"has no factor\(step\) method"):
        build_schedule(plugins, ComponentSpec("broken", {}), 10)
