"""Every weights file records the plugin distribution and version of each component; a
checkpoint whose plugin is gone names what to install (before: "unknown generator 'foo_gen'
(did you mean 'resnet'?)")."""

from __future__ import annotations

import json

from safetensors.torch import save_file

from i2i.runs.checkpoint import latest_checkpoint, read_metadata, read_tensors
from tests.conftest import train_in_process


def test_weights_record_each_components_distribution(tiny_recipe, tmp_path):
    run = tmp_path / "run"
    train_in_process(tiny_recipe, run, "train.steps=2")
    meta = read_metadata(latest_checkpoint(run / "checkpoints") / "generator.safetensors")
    components = json.loads(meta["components"])
    assert set(components) == {"task", "source", "generator", "discriminator", "schedule", "optim", "losses.gan",
                               "losses.l1"}
    assert components["schedule"]["plugin"] == "i2i.schedules" and components["optim"]["name"] == "adam"
    assert components["generator"] == {"kind": "generators", "name": "unet", "plugin": "i2i.generators",
                                       "distribution": "i2i-toolkit", "version": components["generator"]["version"]}
    assert components["generator"]["version"]


def test_a_missing_plugin_is_named_with_what_to_install(tiny_recipe, tmp_path, cli):
    run = tmp_path / "run"
    train_in_process(tiny_recipe, run, "train.steps=2")
    weights = latest_checkpoint(run / "checkpoints") / "generator.safetensors"
    meta = read_metadata(weights)
    recipe = json.loads(meta["recipe"])
    recipe["generator"] = {"name": "foo_gen", "width": 8}
    components = json.loads(meta["components"])
    components["generator"] = {"kind": "generators", "name": "foo_gen", "plugin": "foo", "distribution": "i2i-foo",
                               "version": "0.2.0"}
    meta.update(recipe=json.dumps(recipe), components=json.dumps(components))
    save_file(read_tensors(weights), str(weights), metadata=meta)
    for args in (("predict", weights, tiny_recipe, "--out", tmp_path / "o"), ("eval", run), ("export", weights,
                 "--format", "safetensors", "--out", tmp_path / "x.safetensors")):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert "generator 'foo_gen' comes from plugin 'foo' (distribution i2i-foo 0.2.0), which is not installed" \
               in result.output and "pip install 'i2i-foo>=0.2.0'" in result.output
        assert "did you mean" not in result.output
