"""The plugin contracts carry weight: a task's own metric records decide best checkpoints and
plateau schedules in their declared direction; an object that satisfies the task Protocols
without subclassing Task trains and predicts; third-party generic metrics and loggers are
registered components with checked options and their own state; every base is in
``i2i.plugin_api``."""

from __future__ import annotations

import json
import types

import pytest
import torch

from i2i import hookimpl, plugin_api
from i2i.errors import RecipeError
from i2i.metrics import Metric, MetricTable
from i2i.plugins import load_plugins
from i2i.recipe import load_recipe
from i2i.taskspec import TaskSpec
from tests.conftest import train_in_process
from tests.test_third_party_components import GradientSource, InvertTask

#: The "dice" of successive validation passes: the best is the second (the highest).
DICE = [0.2, 0.7, 0.5, 0.6]


class ScoredTask(InvertTask):
    """InvertTask with a ``dice`` metric (higher is better) whose value per pass is scripted."""

    passes: list[float] = []

    def task_metrics(self):
        def dice(images):
            return torch.full((images.x.shape[0],), DICE[len(ScoredTask.passes) % len(DICE)], dtype=torch.float64)

        return (Metric("dice", True, dice, doc="scripted overlap"),)


def plugins_with(**hooks):
    module = types.ModuleType("contract_plugin")
    for name, function in hooks.items():
        setattr(module, name, function if hasattr(function, "i2i_impl") else hookimpl(function))
    return load_plugins(extra=[("contracts", module)])


def scored_plugins():
    def register_sources(register):
        register("gradients", GradientSource)

    def register_tasks(register):
        register("scored", ScoredTask)

    return plugins_with(register_sources=register_sources, register_tasks=register_tasks)


def recipe_file(tmp_path, extra: str = "") -> str:
    path = tmp_path / "r.toml"
    path.write_text('[task]\nname = "scored"\n[source]\nname = "gradients"\n[generator]\nname = "unet"\n'
                    'depth = 5\nngf = 4\n[discriminator]\nname = "none"\n[data]\nval_fraction = 0.25\n'
                    '[train]\nsteps = 4\nbatch_size = 2\nval_every = 1\ncheckpoint_every = 100\n'
                    f'best_metric = "val_dice"\nkeep_checkpoints = 1\n{extra}')
    return path


class CountPasses:
    @hookimpl
    def on_validation_end(self, trainer, step, metrics):
        ScoredTask.passes.append(metrics["val_dice"])


def test_a_task_metric_that_improves_upwards_picks_the_highest_best(tmp_path):
    ScoredTask.passes = []
    plugins = scored_plugins()
    plugins.manager.register(CountPasses(), "count-passes")
    run = tmp_path / "run"
    train_in_process(recipe_file(tmp_path), run, plugins=plugins)
    assert ScoredTask.passes == DICE
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    assert (best["step"], best["value"]) == (2, 0.7)  # a lower-is-better rule would keep step 1 (0.2)


def test_plateau_follows_the_declared_direction(tmp_path):
    ScoredTask.passes = []
    plugins = scored_plugins()
    plugins.manager.register(CountPasses(), "count-passes")
    extra = ('[schedule]\nname = "plateau"\nmetric = "val_dice"\npatience = 0\nfactor = 0.5\nthreshold = 0.0\n'
             '[optim]\nlr = 0.001\n')
    trainer = train_in_process(recipe_file(tmp_path, extra), tmp_path / "run", plugins=plugins)
    # 0.2 -> 0.7 improves, 0.7 -> 0.5 does not (x0.5), 0.5 -> 0.6 does not beat 0.7 (x0.5 again)
    assert trainer.parts.schedule.plateau_factor == 0.25


class DuckTask:
    """A task that is no Task subclass: only what the Protocols of i2i.taskspec ask."""

    recipe_defaults = {"losses": {"l1": {"name": "l1", "weight": 1.0}}}
    in_channels = out_channels = 1
    input_units = output_units = "image"
    data_range = 1.0
    pixelwise_io = True
    allows_photometric = False
    has_baseline = True
    fp32_output = False  # image outputs: the output layer may run under autocast
    deterministic_input = False
    size_relative_input = False

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def to_data_units(self, image, role):
        return image.float() / 255.0 if image.dtype == torch.uint8 else image.float()

    def encode_input(self, data):
        return data * 2 - 1

    encode_target = encode_input

    def decode_input(self, x):
        return ((x + 1) / 2).clamp(0, 1)

    def decode_output(self, x, y):
        return ((y + 1) / 2).clamp(0, 1)

    def finalize_output(self, image):
        return image

    def input_from_image(self, image):
        return self.encode_input(self.to_data_units(image.unsqueeze(0), "input"))

    def expected_channels(self):
        return {"target": 1}

    def make_input(self, batch, train):
        return batch["input"]

    def make_pair(self, batch, train):
        y = self.encode_target(batch["target"])
        return -y, y

    def augment_input(self, x, ops):
        return x

    def pixel_weights(self, x):
        return None

    def preview(self, image):
        return image

    def display(self, x, output, target):
        return self.decode_input(x), self.decode_output(x, output), self.decode_output(x, target)

    def task_metrics(self):
        return ()

    def baseline_output(self, x):
        return x

    def regions(self, images):
        return None

    def reading_views(self, region):
        return ()

    def acquisition(self, sizes=()):
        return None


def test_an_object_satisfying_the_task_protocols_trains_and_predicts(tmp_path):
    assert isinstance(DuckTask(), TaskSpec) and not isinstance(DuckTask(), plugin_api.Task)

    def register_sources(register):
        register("gradients", GradientSource)

    def register_tasks(register):
        register("duck", DuckTask)

    plugins = plugins_with(register_sources=register_sources, register_tasks=register_tasks)
    recipe = tmp_path / "r.toml"
    recipe.write_text('[task]\nname = "duck"\n[source]\nname = "gradients"\n[generator]\nname = "unet"\ndepth = 5\n'
                      'ngf = 4\n[discriminator]\nname = "none"\n[data]\npreprocess = "none"\nval_fraction = 0.25\n'
                      '[train]\nsteps = 2\nbatch_size = 2\n')
    trainer = train_in_process(recipe, tmp_path / "run", plugins=plugins)
    assert trainer.step == 2 and trainer.last_validation["val_psnr"] > 0
    from i2i.api import predict
    from i2i.inference.model import load_model

    model = load_model(tmp_path / "run", plugins=plugins)
    image = torch.linspace(0, 1, 32).view(1, 1, 32).expand(1, 32, 32).contiguous()
    out = predict(model, image)
    assert out.shape == (1, 32, 32) and torch.isfinite(out).all()


def test_a_task_without_part_of_the_protocol_is_not_a_task_spec():
    class Half:
        in_channels = 1

    assert not isinstance(Half(), TaskSpec)


@hookimpl
def register_metrics(register):
    register("mean_output", lambda: Metric("mean_output", True, lambda images: images.output_data.flatten(1).mean(1)))


def test_a_generic_metric_from_a_plugin_is_scored_and_its_direction_known(tmp_path):
    plugins = plugins_with(register_metrics=register_metrics)
    table = MetricTable.registered(plugins["metrics"])
    assert "mean_output" in table.names() and table.higher_is_better("val_ema_mean_output")
    assert not table.higher_is_better("val_mae") and table.higher_is_better("val_input_psnr")
    assert table.get("fid").on_request and not table.higher_is_better("fid")


def test_a_metric_factory_that_gives_no_metric_is_named():
    def register_metrics(register):
        register("broken", lambda: 0.5)

    with pytest.raises(TypeError, match="metric 'broken' \\(plugin 'contracts'\\).*not an i2i.metrics.Metric"):
        MetricTable.registered(plugins_with(register_metrics=register_metrics)["metrics"])


class Recorder(plugin_api.Logger):
    """A logger with per-instance state: the events it saw."""

    instances: list = []

    def __init__(self, run_dir, prefix: str = "x"):
        self.prefix, self.seen = prefix, []
        Recorder.instances.append(self)

    def on_train_start(self, trainer):
        self.seen.append("start")

    def on_step_end(self, trainer, step, logs):
        self.seen.append(f"{self.prefix}{step}")

    def on_train_end(self, trainer, step, status):
        self.seen.append(status)


@hookimpl
def register_loggers(register):
    register("recorder", Recorder)


def recorder_plugins():
    return plugins_with(register_loggers=register_loggers, **{"register_sources": lambda register: register(
        "gradients", GradientSource), "register_tasks": lambda register: register("scored", ScoredTask)})


def test_a_logger_is_built_per_run_with_its_options(tmp_path):
    Recorder.instances = []
    plugins = recorder_plugins()
    recipe = recipe_file(tmp_path, '[plugins.recorder]\nenabled = true\nprefix = "s"\n').read_text()
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(recipe.replace("steps = 4", "steps = 2"))
        train_in_process(tmp_path / f"{name}.toml", tmp_path / name, plugins=plugins)
    assert [r.seen for r in Recorder.instances] == [["start", "s1", "s2", "completed"]] * 2


def test_a_logger_option_is_checked_against_its_factory(tmp_path):
    plugins = recorder_plugins()
    recipe = recipe_file(tmp_path, '[plugins.recorder]\nenabled = "yes"\nprefx = "s"\n')
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe, plugins=plugins)
    assert "plugins.recorder.enabled: must be true or false, got 'yes'" in str(err.value)
    assert "plugins.recorder.prefx: logger 'recorder' has no option 'prefx' (did you mean 'prefix'?)" in str(err.value)


def test_the_plugin_api_module_exports_every_base():
    for name in ("Task", "TaskSpec", "GeneratorSpec", "DiscriminatorSpec", "AdversarialLoss", "ReconstructionLoss",
                 "Schedule", "Metric", "Logger", "Source", "Format", "PairRandom", "Register", "TrainerView",
                 "hookimpl"):
        assert hasattr(plugin_api, name), name
    assert set(plugin_api.__all__) == {n for n in dir(plugin_api) if not n.startswith("_")} - {"annotations"}


def test_a_task_missing_part_of_the_protocol_fails_naming_the_plugin_and_what_is_missing(tmp_path):
    from i2i.assembly.components import build_task
    from i2i.errors import UsageError

    Partial = type("Partial", (), {k: v for k, v in vars(DuckTask).items() if k != "make_pair"})

    def register_tasks(register):
        register("partial", Partial)

    plugins = plugins_with(register_tasks=register_tasks)
    recipe = tmp_path / "r.toml"
    recipe.write_text('[task]\nname = "partial"\n[source]\nname = "aligned"\nroot = "x"\n[generator]\nname = "unet"\n[discriminator]\n'
                      'name = "none"\n[train]\nsteps = 1\n')
    with pytest.raises(UsageError, match="task 'partial' \\(plugin 'contracts'\\).*without make_pair"):
        build_task(plugins, load_recipe(recipe, plugins=plugins))


def test_a_third_party_ct_task_builds_on_the_stable_ct_base():
    """CTTask is core (i2i.medical.ct_task, exported by plugin_api): the built-in CT tasks derive
    from it, and a task that only says how its input is made gets HU pairs, the field of view
    and the clinical-window metrics."""
    from i2i_plugins.tasks.ct import LowDoseTask, SparseViewTask

    class Blurred(plugin_api.CTTask):
        def simulate(self, hu, random, batch):
            return torch.nn.functional.avg_pool2d(hu, 3, 1, 1)

    assert issubclass(SparseViewTask, plugin_api.CTTask) and issubclass(LowDoseTask, plugin_api.CTTask)
    task = Blurred(hu_range=(-1024.0, 1024.0))
    hu = torch.full((2, 1, 32, 32), -1000.0)
    hu[..., 8:24, 8:24] = 40.0
    x, y = task.make_pair({"target": task.to_data_units(hu, "target")}, train=False)
    assert x.shape == y.shape == (2, 1, 32, 32) and float(y.abs().max()) <= 1.0
    assert torch.allclose(task.decode_output(x, y)[..., 16, 16], torch.tensor(40.0))
    assert {"psnr", "mae_hu", "bone_psnr"} <= {m.name for m in task.task_metrics()}
