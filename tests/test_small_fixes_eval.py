"""Small things a careful user noticed (issue "Numbers you can trust"), each with a test."""

from __future__ import annotations

import json

from i2i.plugins import get_plugins
from i2i.recipe import load_recipe


def test_list_plugins_shows_component_descriptions(cli, monkeypatch):
    """Before: names only, although CONTRIBUTING said descriptions were shown."""
    monkeypatch.setenv("COLUMNS", "300")
    result = cli("list-plugins")
    assert result.exit_code == 0
    registries = get_plugins().registries
    for kind, name in (("generators", "unet"), ("discriminators", "patchgan"), ("tasks", "ct_sparse_view"),
                       ("sources", "aligned")):
        line = registries[kind].get(name).summary
        assert line and line[:40] in result.output and "``" not in line, (name, line)


def test_no_identity_baseline_where_input_and_target_are_different_kinds_of_image(facades):
    """Before: the report painted "improvement over input" green for aerial -> map."""
    plugins = get_plugins()
    for recipe in ("recipes/maps.toml", "recipes/facades.toml"):
        r = load_recipe(recipe, [f'data.root="{facades}"'])
        task = plugins["tasks"].build(r.task.name, r.task.options)
        assert not task.has_baseline, recipe
    r = load_recipe("recipes/inpainting.toml", [f'data.root="{facades}"'])
    assert plugins["tasks"].build(r.task.name, r.task.options).has_baseline  # as its comment promises


def test_summary_takes_a_run_directory(tiny_recipe, tmp_path, cli):
    from tests.conftest import train_in_process

    run = tmp_path / "run"
    train_in_process(tiny_recipe, run, "train.steps=1")
    by_dir = cli("summary", run, "--json")
    by_file = cli("summary", run / "recipe.toml", "--json")
    assert by_dir.exit_code == 0, by_dir.output
    assert json.loads(by_dir.output) == json.loads(by_file.output)
