"""Training events reach plugins in order with the documented arguments; a failing plugin
is switched off without ending the run; non-finite losses stop the run cleanly."""

from __future__ import annotations

import types

import pytest
import torch

from i2i import hookimpl
from i2i.runs.checkpoint import list_checkpoints
from i2i.engine.trainer import NonFiniteLossError, Trainer
from i2i.losses import ReconstructionLoss
from i2i.plugins import load_plugins
from tests.conftest import train_in_process


def recorder():
    calls = []
    module = types.ModuleType("recorder_plugin")

    @hookimpl
    def on_train_start(trainer):
        calls.append(("on_train_start", trainer.step, isinstance(trainer, Trainer)))

    @hookimpl
    def on_step_end(trainer, step, logs):
        calls.append(("on_step_end", step, dict(logs)))

    @hookimpl
    def on_validation_end(trainer, step, metrics):
        calls.append(("on_validation_end", step, dict(metrics)))

    @hookimpl
    def on_checkpoint(trainer, step, path):
        calls.append(("on_checkpoint", step, path))

    @hookimpl
    def on_train_end(trainer, step, status):
        calls.append(("on_train_end", step, status))

    for f in (on_train_start, on_step_end, on_validation_end, on_checkpoint, on_train_end):
        setattr(module, f.__name__, f)
    return module, calls


def test_events_fire_in_order_with_arguments(tiny_recipe, tmp_path):
    module, calls = recorder()
    plugins = load_plugins(extra=[("recorder", module)])
    train_in_process(tiny_recipe, tmp_path / "run", "train.steps=4", "train.log_every=2", "data.val_fraction=0.02",
                     "train.val_every=2", plugins=plugins)
    names = [c[0] for c in calls]
    assert names[0] == "on_train_start" and names[-1] == "on_train_end"
    assert calls[0][1:] == (0, True) and calls[-1][1:] == (4, "completed")
    steps = [c for c in calls if c[0] == "on_step_end"]
    assert [c[1] for c in steps] == [1, 2, 3, 4]
    assert steps[0][2] == {} and {"loss_g", "loss_d", "val_psnr"} <= set(steps[1][2])
    checkpoints = [c for c in calls if c[0] == "on_checkpoint"]
    assert [c[1] for c in checkpoints] == [2, 4] and checkpoints[0][2].endswith("step_00000002")
    validations = [c for c in calls if c[0] == "on_validation_end"]
    assert [c[1] for c in validations] == [2, 4] and "val_input_psnr" in validations[0][2]
    # per step, in order: validation, checkpoint, then the step's end
    at2 = [c[0] for c in calls if c[1] == 2 and c[0] != "on_train_start"]
    assert at2 == ["on_validation_end", "on_checkpoint", "on_step_end"]


def test_a_failing_event_plugin_is_switched_off_not_fatal(tiny_recipe, tmp_path, capfd):
    module = types.ModuleType("flaky_plugin")
    seen = []

    @hookimpl
    def on_step_end(trainer, step, logs):
        seen.append(step)
        raise RuntimeError("logger service is down")

    module.on_step_end = on_step_end
    trainer = train_in_process(tiny_recipe, tmp_path / "run", "train.steps=3",
                               plugins=load_plugins(extra=[("flaky", module)]))
    assert trainer.step == 3 and seen == [1]
    assert "plugin 'flaky' failed in on_step_end: RuntimeError: logger service is down" in capfd.readouterr().err


class NanAtStep3(ReconstructionLoss):
    """Returns NaN on its third call."""

    def __init__(self):
        self.calls = 0

    def __call__(self, output, target):
        self.calls += 1
        value = (output - target).abs().mean()
        return value * float("nan") if self.calls == 3 else value


def test_non_finite_loss_stops_naming_step_and_term_and_keeps_last_good(tiny_recipe, tmp_path):
    module = types.ModuleType("nan_plugin")

    @hookimpl
    def register_losses(register):
        register("nan_at_3", NanAtStep3)

    module.register_losses = register_losses
    plugins = load_plugins(extra=[("nan", module)])
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as err:
        train_in_process(tiny_recipe, out, "train.steps=6", "train.checkpoint_every=2", "train.log_every=4",
                         'losses.bad.name="nan_at_3"', plugins=plugins)
    assert "loss loss_g_bad became nan at step 3" in str(err.value)
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [2]


def test_tensorboard_plugin_writes_events(tiny_recipe, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed")
    out = tmp_path / "run"
    train_in_process(tiny_recipe, out, "train.steps=2", "plugins.tensorboard.enabled=true")
    files = list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert files and files[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert "train/loss_g" in events.Tags()["scalars"]
    assert [e.step for e in events.Scalars("train/loss_g")] == [1, 2]


def test_unknown_plugin_table_is_rejected(tiny_recipe):
    from i2i.errors import RecipeError
    from i2i.recipe import load_recipe

    with pytest.raises(RecipeError, match="plugins.tensorbord: no plugin 'tensorbord' is loaded"):
        load_recipe(tiny_recipe, ["plugins.tensorbord.enabled=true"])


def ordered_plugins():
    """Two recording plugins registered after the built-ins: ``early`` (tryfirst, registered
    first) and ``late`` (plain), plus a new-style wrapper and an old-style hookwrapper."""
    calls = []
    early, late, around = (types.ModuleType(n) for n in ("early_plugin", "late_plugin", "around_plugin"))

    @hookimpl(tryfirst=True)
    def on_step_end_early(trainer, step, logs):
        calls.append(("early", step))

    @hookimpl
    def on_step_end_late(trainer, step, logs):
        calls.append(("late", step))

    @hookimpl(wrapper=True)
    def on_step_end_wrapper(trainer, step, logs):
        calls.append(("wrapper before", step))
        result = yield
        calls.append(("wrapper after", step))
        return result

    @hookimpl(hookwrapper=True)
    def on_train_end_old_style(trainer, step, status):
        calls.append(("old-style before", status))
        yield
        calls.append(("old-style after", status))

    early.on_step_end = on_step_end_early
    late.on_step_end = on_step_end_late
    around.on_step_end = on_step_end_wrapper
    around.on_train_end = on_train_end_old_style
    return load_plugins(extra=[("early", early), ("late", late), ("around", around)]), calls


def test_event_order_follows_pluggy_tryfirst_and_wrappers(tiny_recipe, tmp_path):
    """Before: implementations were called one by one in registration order, so tryfirst ran
    last and wrapper=True implementations never ran."""
    plugins, calls = ordered_plugins()
    train_in_process(tiny_recipe, tmp_path / "run", "train.steps=2", plugins=plugins)
    first_step = [name for name, step in calls if step == 1]
    assert first_step == ["wrapper before", "early", "late", "wrapper after"]
    assert ("old-style before", "completed") in calls and calls[-1] == ("old-style after", "completed")


def test_a_failing_wrapper_is_switched_off_and_the_others_still_run(tiny_recipe, tmp_path, capfd):
    calls = []
    module, plain = types.ModuleType("bad_wrapper"), types.ModuleType("plain")

    @hookimpl(wrapper=True)
    def on_step_end(trainer, step, logs):
        yield
        raise RuntimeError("wrapper broke")

    @hookimpl
    def on_step_end_plain(trainer, step, logs):
        calls.append(step)

    module.on_step_end, plain.on_step_end = on_step_end, on_step_end_plain
    plugins = load_plugins(extra=[("badwrap", module), ("plain", plain)])
    trainer = train_in_process(tiny_recipe, tmp_path / "run", "train.steps=3", plugins=plugins)
    assert trainer.step == 3 and calls == [1, 2, 3]
    assert "plugin 'badwrap' failed in on_step_end: RuntimeError: wrapper broke" in capfd.readouterr().err
