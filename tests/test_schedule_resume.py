"""Schedules keep their word: a resume with another run length says in one line what changes
(before: the saved total_steps was never read back and linear/cosine schedules were
silently reshaped); the plateau schedule watches a metric validation really logs (before:
the default "val_l1" named no metric, so plateau never decayed and nothing warned)."""

from __future__ import annotations

import pytest

from i2i.engine.schedule import Schedule, resume_note
from i2i.errors import RecipeError
from i2i.recipe import load_recipe
from i2i.recipe.schema import ScheduleSection
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
    linear = ScheduleSection(name="linear", decay_start=0.5)
    assert resume_note(linear, 100, 100, 60) is None
    note = resume_note(linear, 100, 200, 60)
    expected = f"{Schedule(linear, 100).factor(60):.4g} -> {Schedule(linear, 200).factor(60):.4g}"
    assert expected in note and "0.7843 -> 1)" in note  # 1 - (60 - 50 + 1) / 51: decaying before, not yet after
    assert "continues unchanged" in resume_note(ScheduleSection(name="step"), 100, 200, 60)


def test_default_plateau_metric_exists_and_decays(facades):
    recipe = load_recipe("recipes/facades.toml", [f'data.root="{facades}"', 'schedule.name="plateau"'])
    assert recipe.schedule.metric == "val_mae"
    schedule = Schedule(recipe.schedule, 100)
    for value in [0.5] * (recipe.schedule.patience + 2):
        schedule.observe({"val_mae": value, "val_psnr": 20.0})
    assert schedule.factor(50) == pytest.approx(recipe.schedule.factor)


@pytest.mark.parametrize("key", ["schedule.metric", "train.best_metric"])
def test_unknown_metric_names_are_refused(facades, key):
    sets = [f'data.root="{facades}"', 'schedule.name="plateau"', f'{key}="val_l1"']
    with pytest.raises(RecipeError, match=rf"{key}: 'val_l1' is not a metric this task's validation logs.*'val_mae'"):
        load_recipe("recipes/facades.toml", sets)
