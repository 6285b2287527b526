"""Plugin loading says what went wrong (issue 15, item 9): sys.exit() at import, hooks
without @hookimpl, I2I_LOAD_PLUGINS names that match nothing, and unknown components
that a plugin which failed to load may have offered."""

from __future__ import annotations

import pytest

from i2i.plugins import load_plugins
from tests.conftest import CT_RECIPE, run_i2i
from tests.plugin_fixtures import GOOD, make_distribution

EXITS_AT_IMPORT = """
    import sys
    sys.exit(3)
"""

UNDECORATED = """
    def register_generators(register):
        register("never_registered", object)

    def on_step_end(trainer, step, logs):
        pass
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    make_distribution(site, "i2i-exits", "exits", "i2i_exits_plugin", EXITS_AT_IMPORT)
    make_distribution(site, "i2i-undecorated", "undecorated", "i2i_undecorated_plugin", UNDECORATED)
    make_distribution(site, "i2i-good", "good", "i2i_good_plugin", GOOD)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("I2I_LOAD_PLUGINS", raising=False)
    return site


def test_sys_exit_at_import_is_reported_like_an_import_error(site):
    info = {i.name: i for i in load_plugins().infos}["exits"]
    assert "failed to load: SystemExit (it called sys.exit(3))" in info.error


def test_hook_functions_without_hookimpl_are_warned_about(site):
    info = {i.name: i for i in load_plugins().infos}["undecorated"]
    assert info.error is None and len(info.warnings) == 2
    assert "function on_step_end() is named like an i2i hook but is not marked @hookimpl" in info.warnings[0]
    assert "function register_generators() is named like" in info.warnings[1]


def test_unknown_names_in_i2i_load_plugins_are_warned_about(site, monkeypatch):
    monkeypatch.setenv("I2I_LOAD_PLUGINS", "good,godo,nosuch")
    plugins = load_plugins()
    assert "good" in {i.name for i in plugins.infos}
    godo, nosuch = plugins.warnings
    assert godo.startswith("I2I_LOAD_PLUGINS: no installed plugin is called 'godo' (did you mean 'good'?); "
                           "installed third-party plugins: ")
    assert nosuch.startswith("I2I_LOAD_PLUGINS: no installed plugin is called 'nosuch'; installed third-party ")
    assert "'exits', 'good', 'undecorated'" in nosuch


def test_unknown_component_names_the_plugin_that_failed_to_load(site):
    message = load_plugins()["generators"].unknown_message("fancy_gen")
    assert message.startswith("unknown generator 'fancy_gen'; available: ")
    assert "plugin 'exits' failed to load and may be the one offering it (failed to load: SystemExit" in message


def test_cli_keeps_working_and_says_why(site):
    # a plugin calling sys.exit(3) at import: every command exited 3 with no output
    env = {"PYTHONPATH": str(site)}
    ok = run_i2i("recipe", "check", CT_RECIPE, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "warning: plugin 'exits': failed to load: SystemExit (it called sys.exit(3))" in ok.stderr
    assert "warning: plugin 'undecorated': " in ok.stderr
    unknown = run_i2i("recipe", "check", CT_RECIPE, "--set", "generator.name=fancy_gen", env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "plugin 'exits' failed to load and may be the one offering it" in unknown.stderr
