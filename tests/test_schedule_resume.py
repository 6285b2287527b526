"""Schedules keep their word: a resume with another run length says in one line what changes
(before: the saved total_steps was never read back and linear/cosine schedules were
silently reshaped); the plateau schedule watches a metric validation really logs (before:
the default "val_l1" named no metric, so plateau never decayed and nothing warned)."""

from __future__ import annotations

import pytest

from i2i.assembly.components import build_schedule
from i2i.engine.schedule import resume_note
from i2i.errors import RecipeError
from i2i.plugins import get_plugins
from i2i.recipe import ComponentSpec, load_recipe
from tests.conftest import train_in_process


def test_resume_with_more_steps_says_what_changes(tiny_recipe, tmp_path, capsys):
    out = tmp_path / "run"
    train_in_process(tiny_recipe, out, "train.steps=4", 'schedule.name="linear"')
    capsys.readouterr()
    trainer = train_in_process(tiny_recipe, out, "train.steps=8", 'schedule.name="linear"', resume=True)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "schedule" in line]
    assert len(lines) == 1 and "8 steps instead of 4" in lines[0] and "recomputed over 8 steps" in lines[0]
    assert "1 -> 1" not in lines[0] and trainer.step == 8
    train_in_process(tiny_recipe, tmp_path / "same", "train.steps=4")
    capsys.readouterr()
    train_in_process(tiny_recipe, tmp_path / "same", "train.steps=4", resume=True)
    assert "schedule" not in capsys.readouterr().err


def test_resume_note_for_each_schedule():
    plugins = get_plugins()
    linear = ComponentSpec("linear", {"decay_start": 0.5})
    assert resume_note(plugins, linear, 100, 100, 60) is None
    note = resume_note(plugins, linear, 100, 200, 60)
    before, after = (build_schedule(plugins, linear, total).factor(60) for total in (100, 200))
    assert f"{before:.4g} -> {after:.4g}" in note and "0.7843 -> 1)" in note  # 1 - (60 - 50 + 1) / 51
    assert "continues unchanged" in resume_note(plugins, ComponentSpec("step", {}), 100, 200, 60)


def test_default_plateau_metric_exists_and_decays(facades):
    recipe = load_recipe("recipes/facades.toml", [f'data.root="{facades}"', 'schedule.name="plateau"'])
    options = recipe.schedule.options
    assert options["metric"] == "val_mae"
    schedule = build_schedule(get_plugins(), recipe.schedule, 100)
    for value in [0.5] * (options["patience"] + 2):
        schedule.observe({"val_mae": value, "val_psnr": 20.0})
    assert schedule.factor(50) == pytest.approx(options["factor"])


@pytest.mark.parametrize("key", ["schedule.metric", "train.best_metric"])
def test_unknown_metric_names_are_refused(facades, key):
    sets = [f'data.root="{facades}"', 'schedule.name="plateau"', f'{key}="val_l1"']
    with pytest.raises(RecipeError, match=rf"{key}: 'val_l1' is not a metric this task's validation logs.*'val_mae'"):
        load_recipe("recipes/facades.toml", sets)
