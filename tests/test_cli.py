"""The command line as a new user meets it: help, plugins, summary, recipes, a real run, exit codes."""

from __future__ import annotations

import pytest

import json
import tomllib

from i2i.registry import KINDS
from tests.conftest import run_i2i


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("run", "list-plugins", "recipe", "summary", "new-plugin"):
        assert command in result.output


def test_console_script_and_module_entry_work():
    result = run_i2i("--version")
    assert result.returncode == 0 and "i2i, version" in result.stdout


def test_list_plugins_json_shape(cli):
    result = cli("list-plugins", "--json")
    assert result.exit_code == 0
    plugins = json.loads(result.output)
    assert isinstance(plugins, list)
    for p in plugins:
        assert {"name", "version", "builtin", "components", "error"} <= set(p)
    builtin = [p for p in plugins if p["builtin"]]
    components = {kind: set() for kind in KINDS}
    for p in builtin:
        for kind, names in p["components"].items():
            components[kind] |= set(names)
    assert {"unet_256"} <= components["generators"] and {"patchgan"} <= components["discriminators"]
    assert {"vanilla", "l1"} <= components["losses"] and "paired" in components["tasks"]
    assert "aligned" in components["sources"] and {"linear", "plateau"} <= components["schedules"]
    assert {"adam", "adamw"} <= components["optimizers"] and {"png", "dicom", "nifti"} <= components["formats"]


def test_list_plugins_table(cli):
    result = cli("list-plugins")
    assert result.exit_code == 0 and "unet_256" in result.output and "i2i.generators" in result.output


def test_summary_json_has_reference_parameter_counts(cli):
    result = cli("summary", "recipes/facades.toml", "--json")
    assert result.exit_code == 0, result.output
    parts = {c["role"]: c for c in json.loads(result.output)["components"]}
    assert parts["generator"]["parameters"] == 54_413_955
    assert parts["generator"]["size_divisor"] == 256
    assert parts["discriminator"]["parameters"] == 2_768_705
    assert parts["discriminator"]["receptive_field"] == 70


def test_summary_table(cli):
    result = cli("summary", "recipes/facades.toml", "--set", "generator.name=unet_128")
    assert result.exit_code == 0 and "41,828,995" in result.output


def test_recipe_show_is_valid_resolved_toml(cli):
    result = cli("recipe", "show", "recipes/facades.toml", "--set", "train.steps=3")
    assert result.exit_code == 0
    shown = tomllib.loads(result.output)
    assert shown["train"]["steps"] == 3 and shown["generator"]["ngf"] == 64
    assert shown["losses"]["l1"]["weight"] == 100.0


def test_recipe_check(cli):
    ok = cli("recipe", "check", "recipes/facades.toml")
    assert ok.exit_code == 0 and "ok" in ok.output and "data.root is not set" in ok.output
    bad = cli("recipe", "check", "recipes/facades.toml", "--set", "train.steps=0")
    assert bad.exit_code == 2 and "train.steps: must be >= 1, got 0" in bad.output


def test_invalid_recipes_exit_2_naming_file_and_key(tmp_path):
    cases = {
        'train.steps="many"': "recipes/facades.toml: train.steps: expected an integer (or omitted), got 'many'",
        "train.stepz=3": "recipes/facades.toml: train.stepz: unknown key (did you mean 'steps'?)",
        'generator.name="unet_257"': "recipes/facades.toml: generator.name: unknown generator 'unet_257' "
                                     "(did you mean 'unet_256'",
    }
    for override, expected in cases.items():
        result = run_i2i("run", "recipes/facades.toml", "--set", override, "--out", tmp_path / "x")
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_unknown_key_in_the_file_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[train]\nsteps = 2\nbatchsize = 4\n')
    result = run_i2i("run", path)
    assert result.returncode == 2
    assert f"{path}: train.batchsize: unknown key (did you mean 'batch_size'?)" in result.stderr


def test_run_without_data_root_exits_2(cli, tmp_path):
    result = cli("run", "recipes/facades.toml", "--set", "train.steps=1", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "data.root: not set" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_facades_run_writes_the_run_directory(cli, facades, tmp_path):
    out = tmp_path / "run"
    result = cli("run", "recipes/facades.toml", "--set", f"data.root={json.dumps(str(facades))}",
                 "--set", "train.steps=10", "--set", "train.log_every=5", "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    recipe = tomllib.loads((out / "recipe.toml").read_text())
    assert recipe["train"]["steps"] == 10 and recipe["run"]["out"] == str(out)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10]
    for r in records:
        assert {"loss_d", "loss_g_gan", "loss_g_l1", "loss_g", "lr_g", "images_per_s"} <= set(r)
        assert r["images_per_s"] > 0
    assert list((out / "samples").glob("*.png"))
    weights = list((out / "checkpoints").glob("**/*.safetensors"))
    assert {w.name for w in weights} >= {"generator.safetensors", "discriminator.safetensors"}
    # an explicit --out that holds a run is never overwritten
    again = cli("run", "recipes/facades.toml", "--set", f"data.root={json.dumps(str(facades))}", "--out", out)
    assert again.exit_code == 2 and "already holds a run" in again.output
