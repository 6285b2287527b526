"""Recipes by name: every command taking a RECIPE accepts a shipped recipe's name, an
existing file wins, unknown names list the names; ``i2i recipes``, ``i2i recipe copy`` and
recipes shipped by a plugin through ``register_recipes``."""

from __future__ import annotations

import json
import textwrap
import tomllib
import types

import pytest

from i2i.errors import UsageError
from i2i.plugins import load_plugins
from i2i.recipe import load_recipe
from i2i.recipe.named import recipe_file, shipped_recipe
from tests.conftest import ROOT, TINY_CT, run_i2i
from tests.plugin_fixtures import make_distribution

SHIPPED = sorted(p.stem for p in (ROOT / "recipes").glob("*.toml"))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Work in an empty folder, as a user who installed i2i would."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_file_in_recipes_is_a_shipped_recipe_of_plugin_i2i_recipes():
    assert len(SHIPPED) >= 8
    for name in SHIPPED:
        found = shipped_recipe(name)
        assert found is not None and found.plugin == "i2i.recipes"
        assert found.path.read_bytes() == (ROOT / "recipes" / f"{name}.toml").read_bytes()


def test_recipe_check_and_show_by_name(cli, in_tmp):
    checked = cli("recipe", "check", "medical_ct")
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("medical_ct: ok (task ct_sparse_view")
    shown = cli("recipe", "show", "facades", "--set", "train.steps=7")
    assert shown.exit_code == 0
    resolved = tomllib.loads(shown.output)
    assert resolved["train"]["steps"] == 7 and resolved["generator"]["name"] == "unet_256"


def test_a_bare_file_name_of_a_shipped_recipe_works_too(in_tmp):
    assert recipe_file("medical_ct.toml") == shipped_recipe("medical_ct").path
    assert load_recipe("medical_ct.toml").stem == "medical_ct"


def test_an_existing_file_wins_over_a_shipped_name(cli, in_tmp):
    (in_tmp / "medical_ct").write_text('[task]\nname = "paired"\n[train]\nsteps = 3\n')
    shown = cli("recipe", "show", "medical_ct")
    assert shown.exit_code == 0
    assert tomllib.loads(shown.output)["task"]["name"] == "paired"  # the local file, not the CT recipe


@pytest.mark.parametrize("command", [("run",), ("recipe", "show"), ("recipe", "check"), ("summary",)])
def test_an_unknown_name_exits_2_listing_the_names_and_close_ones(cli, in_tmp, command):
    result = cli(*command, "medicl_ct")
    assert result.exit_code == 2
    assert ("error: medicl_ct: no such recipe file, nor a shipped recipe of that name (did you mean "
            "'medical_ct' or 'medical_ldct' or 'medical_ct_real'?); shipped recipes: 'colorization', "
            "'edges2shoes', 'facades'") \
        in result.output
    assert "`i2i recipes` describes them" in result.output and "Traceback" not in result.output


def test_a_missing_path_still_names_the_file(in_tmp):
    with pytest.raises(UsageError, match=r"^nope/x\.toml: no such recipe file, nor a shipped recipe"):
        recipe_file("nope/x.toml")


def test_run_by_name_uses_the_name_for_the_run_directory(cli, in_tmp):
    result = cli("run", "medical_ct", *TINY_CT, "--set", "train.final_eval=false", "--quiet")
    assert result.exit_code == 0, result.output
    run = in_tmp / "runs" / "medical_ct"
    assert (run / "recipe.toml").is_file() and (run / "report.html").is_file()
    assert "(from medical_ct)" in (run / "recipe.toml").read_text().splitlines()[0]
    again = cli("run", "--resume", "medical_ct", *TINY_CT, "--set", "train.steps=3", "--set", "train.final_eval=false",
                "--quiet")  # --resume NAME means NAME --resume: the newest run of that recipe
    assert again.exit_code == 0, again.output
    assert "resuming runs/medical_ct from step_" in again.output


def test_resume_by_name_without_a_run_says_where_it_looked(cli, in_tmp):
    result = cli("run", "--resume", "facades")
    assert result.exit_code == 2
    assert "--resume: no run of facades found under runs (looked for facades[-N]/)" in result.output


def test_i2i_recipes_lists_names_plugins_and_first_comment(cli):
    table = cli("recipes")
    assert table.exit_code == 0
    for name in SHIPPED:
        assert name in table.output
    assert "i2i.recipes" in table.output and "Sparse-view CT: remove the streak" in table.output
    listed = json.loads(cli("recipes", "--json").output)
    assert [r["name"] for r in listed] == SHIPPED
    ct = next(r for r in listed if r["name"] == "medical_ct")
    assert ct["plugin"] == "i2i.recipes"
    assert ct["description"].startswith("Sparse-view CT: remove the streak artifacts of a filtered back-projection "
                                        "(FBP) from 1/8 of full angular sampling")  # first paragraph


def test_recipe_copy_writes_an_editable_copy_and_never_overwrites(cli, in_tmp):
    made = cli("recipe", "copy", "medical_ct")
    assert made.exit_code == 0 and "wrote medical_ct.toml" in made.output
    original = (ROOT / "recipes" / "medical_ct.toml").read_bytes()
    assert (in_tmp / "medical_ct.toml").read_bytes() == original
    (in_tmp / "medical_ct.toml").write_text("# mine\n")
    again = cli("recipe", "copy", "medical_ct")
    assert again.exit_code == 2
    assert "error: medical_ct.toml: already exists; not overwritten" in again.output
    assert (in_tmp / "medical_ct.toml").read_text() == "# mine\n"
    (in_tmp / "mine").mkdir()
    assert cli("recipe", "copy", "facades", "mine").exit_code == 0
    assert (in_tmp / "mine" / "facades.toml").read_bytes() == (ROOT / "recipes" / "facades.toml").read_bytes()
    assert cli("recipe", "copy", "facades", "ct2.toml").exit_code == 0 and (in_tmp / "ct2.toml").is_file()


def test_recipe_copy_of_an_unknown_name_exits_2(cli, in_tmp):
    result = cli("recipe", "copy", "facade")
    assert result.exit_code == 2
    assert "error: facade: no shipped recipe of that name (did you mean 'facades'?)" in result.output
    assert list(in_tmp.iterdir()) == []


SHIPPER = """
    from pathlib import Path

    from i2i import hookimpl

    @hookimpl
    def register_recipes(register):
        register("tiny_ct", Path(__file__).parent / "tiny_ct.toml")
"""

TINY_CT_RECIPE = """\
# A tiny CT recipe shipped by a plugin.
# Second line of the same paragraph.
#
# Not part of the description.
[task]
name = "ct_sparse_view"

[train]
steps = 3
"""


def test_a_plugin_ships_recipes_through_register_recipes(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_CT_RECIPE)
    shipper = types.ModuleType("shipper")
    exec(textwrap.dedent("""
        from i2i import hookimpl

        @hookimpl
        def register_recipes(register):
            register("tiny", FOLDER / "tiny.toml")
            register("bad name", FOLDER / "tiny.toml")
            register("gone", FOLDER / "gone.toml")
            register("medical_ct", FOLDER / "tiny.toml")
    """), {"FOLDER": tmp_path, **vars(shipper)}, vars(shipper))
    plugins = load_plugins(extra=[("shipper", shipper)])
    tiny = plugins.recipes["tiny"]
    assert (tiny.plugin, tiny.path) == ("shipper", tmp_path / "tiny.toml")
    assert tiny.description == "A tiny CT recipe shipped by a plugin. Second line of the same paragraph."
    assert recipe_file("tiny", plugins) == tmp_path / "tiny.toml"
    assert plugins.recipes["medical_ct"].plugin == "i2i.recipes"  # the built-in keeps its name
    error = plugins.info("shipper").error
    assert "recipe name 'bad name' is not a name: use letters, digits, '_' and '-'" in error
    assert f"recipe 'gone': {tmp_path / 'gone.toml'} is not a .toml file" in error
    assert "recipe 'medical_ct' from plugin 'shipper' is already registered by plugin 'i2i.recipes'" in error


def test_an_installed_plugins_recipe_runs_by_name_through_the_cli(tmp_path):
    site = make_distribution(tmp_path / "site", "i2i-shipper", "shipper", "i2i_shipper_plugin", SHIPPER)
    (site / "tiny_ct.toml").write_text(TINY_CT_RECIPE)
    env = {"PYTHONPATH": str(site)}
    listed = run_i2i("recipes", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    tiny = next(r for r in json.loads(listed.stdout) if r["name"] == "tiny_ct")
    assert tiny["plugin"] == "shipper" and tiny["description"].startswith("A tiny CT recipe shipped by a plugin.")
    shown = run_i2i("recipe", "show", "tiny_ct", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    resolved = tomllib.loads(shown.stdout)
    assert resolved["task"]["name"] == "ct_sparse_view" and resolved["train"]["steps"] == 3
