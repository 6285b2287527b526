"""Recipes: layering, --set, validation messages, frozen result."""

from __future__ import annotations

import dataclasses

import pytest

from i2i.errors import RecipeError, UsageError
from i2i.recipe import load_recipe
from i2i.recipe.layers import merge, parse_sets, parse_value

FACADES = "recipes/facades.toml"


def problems(path, sets=(), text=None, tmp_path=None):
    if text is not None:
        path = tmp_path / "r.toml"
        path.write_text(text)
    with pytest.raises(RecipeError) as err:
        load_recipe(path, sets)
    return err.value


def test_facades_resolves_with_reference_defaults():
    r = load_recipe(FACADES)
    assert (r.generator.name, r.discriminator.name) == ("unet_256", "patchgan")
    assert r.generator.options["dropout"] == 0.5 and r.generator.options["ngf"] == 64
    assert {(l.label, l.name, l.weight) for l in r.losses} == {("gan", "vanilla", 1.0), ("l1", "l1", 100.0)}
    assert (r.optim.lr_g, r.optim.options["betas_g"], r.optim.options["betas_d"]) == (2e-4, (0.5, 0.999), (0.5, 0.999))
    assert (r.data.load_size, r.data.crop_size, r.augment.flip) == (286, 256, True)
    assert r.source.options["direction"] == "BtoA"
    assert (r.train.epochs, r.train.batch_size, r.schedule.name, r.schedule.options["decay_start"]) == (
        200, 1, "linear", 0.5)


def test_set_overrides_with_toml_values():
    r = load_recipe(FACADES, ["train.steps=20", 'generator.norm="instance"', "augment.flip=false",
                              "losses.l1.weight=10", "run.seed=7"])
    assert r.train.steps == 20 and r.generator.options["norm"] == "instance"
    assert r.augment.flip is False and r.run.seed == 7
    assert next(l for l in r.losses if l.label == "l1").weight == 10.0


def test_bare_word_set_values_are_strings():
    # the shell strips the quotes of --set generator.norm="instance"
    assert parse_value("instance") == "instance"
    assert parse_value('"instance"') == "instance"
    assert parse_value("3") == 3 and parse_value("[1, 2]") == [1, 2] and parse_value("true") is True


def test_set_syntax_errors_name_the_item():
    with pytest.raises(RecipeError, match="expected KEY=VALUE"):
        parse_sets("f.toml", ["novalue"])
    with pytest.raises(RecipeError, match="not a TOML value"):
        parse_sets("f.toml", ["a.b=[1,"])


def test_every_problem_reported_at_once_with_file_and_key():
    err = problems(FACADES, ["train.steps=many", "generator.name=unet_257", "train.stepz=1", "optim.lr_g=-1"])
    lines = err.lines()
    assert len(lines) == 4
    assert "recipes/facades.toml: train.steps: expected an integer (or omitted), got 'many' (given with --set)" in lines
    assert any(line.startswith("recipes/facades.toml: generator.name: unknown generator 'unet_257' "
                               "(did you mean 'unet_256'") for line in lines)
    assert any("train.stepz: unknown key (did you mean 'steps'?)" in line for line in lines)
    assert any("optim.lr_g: must be > 0, got -1" in line for line in lines)
    assert err.exit_code == 2


def test_unknown_section_and_bad_tables(tmp_path):
    err = problems(None, text='[trian]\nsteps = 3\n[generator]\nname = "unet_256"\nnrom = "batch"\n', tmp_path=tmp_path)
    text = str(err)
    assert "trian: unknown section (did you mean 'train'?)" in text
    assert "generator.nrom: generator 'unet_256' has no option 'nrom' (did you mean 'norm'?)" in text


def test_invalid_toml_names_the_file(tmp_path):
    err = problems(None, text="[train\nsteps=1", tmp_path=tmp_path)
    assert str(err).startswith(str(tmp_path / "r.toml")) and "invalid TOML" in str(err)


def test_missing_file_is_usage_error():
    with pytest.raises(UsageError, match="nope.toml: no such recipe file"):
        load_recipe("nope.toml")


def test_changing_component_name_drops_lower_layer_options():
    # facades sets generator.dropout for unet_256: a resnet-like swap must not inherit it
    r = load_recipe(FACADES, ['generator.name="unet_128"'])
    assert r.generator.name == "unet_128"
    assert r.generator.options["dropout"] == 0.5  # unet_128's own default, not an inherited option
    merged = merge({"generator": {"name": "a", "x": 1}}, {"generator": {"name": "b", "y": 2}})
    assert merged["generator"] == {"name": "b", "y": 2}
    merged = merge({"generator": {"name": "a", "x": 1}}, {"generator": {"y": 2}})
    assert merged["generator"] == {"name": "a", "x": 1, "y": 2}


def test_task_defaults_fill_what_the_recipe_omits(tmp_path):
    path = tmp_path / "minimal.toml"
    path.write_text('[train]\nsteps = 5\n[source]\ndirection = "AtoB"\n')
    r = load_recipe(path)
    assert (r.task.name, r.generator.name, r.discriminator.name) == ("paired", "unet_256", "patchgan")
    assert {l.name for l in r.losses} == {"vanilla", "l1"}


def test_cross_checks(tmp_path):
    err = problems(FACADES, ["data.crop_size=300", 'discriminator.name="none"'])
    text = str(err)
    assert "data.crop_size: 300 is larger than data.load_size 286" in text
    assert "losses.gan is adversarial and needs a discriminator" in text


def test_recipe_is_frozen():
    r = load_recipe(FACADES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.train.steps = 3
    with pytest.raises(TypeError):
        r.generator.options["ngf"] = 3


def test_digest_ignores_resumable_keys_only():
    base = load_recipe(FACADES).digest()
    assert load_recipe(FACADES, ["train.steps=9", "train.log_every=3", "run.seed=0"]).digest() == base
    assert load_recipe(FACADES, ["generator.ngf=32"]).digest() != base
