"""``i2i new-plugin``: the scaffold installs with pip, shows up, and trains in a recipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_i2i


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)


def test_scaffold_rejects_bad_names_and_non_empty_dirs(cli, tmp_path):
    bad = cli("new-plugin", "Bad-Name", "--dir", tmp_path / "p")
    assert bad.exit_code == 2 and "must start with a lower-case letter" in bad.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    taken = cli("new-plugin", "demo", "--dir", tmp_path / "full")
    assert taken.exit_code == 2 and "not empty" in taken.output


@pytest.mark.slow
def test_new_plugin_installs_lists_and_trains(tmp_path, synthetic_pairs):
    """The scaffold is installed (not editable) into a folder of its own, put on PYTHONPATH
    for the i2i processes below: the live environment is never touched."""
    name = "demo_scaffold_test"
    folder = tmp_path / "plugin"
    made = run_i2i("new-plugin", name, "--dir", folder)
    assert made.returncode == 0, made.stderr
    assert (folder / "pyproject.toml").exists() and (folder / "tests" / "test_plugin.py").exists()
    site = tmp_path / "site"
    installed = pip("install", "--no-deps", "--no-build-isolation", "--target", str(site), str(folder))
    assert installed.returncode == 0, installed.stderr
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    listed = run_i2i("list-plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    plugin = next(p for p in json.loads(listed.stdout) if p["name"] == name)
    assert plugin["builtin"] is False and plugin["error"] is None
    assert plugin["components"] == {"generators": [f"{name}_generator"], "losses": [f"{name}_charbonnier"],
                                     "metrics": [f"{name}_max_error"]}

    out = tmp_path / "run"
    run = run_i2i("run", "recipes/facades.toml", "--set", f'generator.name="{name}_generator"',
                  "--set", "train.steps=2", "--set", f"data.root={json.dumps(str(synthetic_pairs))}",
                  "--set", "data.load_size=40", "--set", "data.crop_size=32", "--out", out, "--quiet", env=env)
    assert run.returncode == 0, run.stderr
    assert (out / "checkpoints" / "step_00000002" / "generator.safetensors").is_file()
    # the scaffold's own tests pass
    own = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
                         capture_output=True, text=True, timeout=300, cwd=folder,
                         env={**os.environ, **env})
    assert own.returncode == 0, own.stdout + own.stderr
    assert name not in run_i2i("list-plugins").stdout  # nothing was installed into this environment


@pytest.mark.parametrize("env_value", ["", "something_else"])
def test_env_switch_hides_installed_plugins_from_cli(env_value):
    result = run_i2i("list-plugins", "--json", env={"I2I_LOAD_PLUGINS": env_value})
    assert result.returncode == 0
    assert all(p["builtin"] for p in json.loads(result.stdout))
