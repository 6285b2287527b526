"""Plugin loading: built-ins through the entry-point group, third parties, failures, the env switch."""

from __future__ import annotations

import json

import pytest

from i2i.plugins import load_plugins
from tests.conftest import run_i2i
from tests.plugin_fixtures import DUPLICATE, GOOD, MISSPELT_HOOK, RAISES_AT_IMPORT, REGISTER_RAISES, make_distribution

BUILTIN_COMPONENTS = {
    "generators": {"unet_256", "unet_128", "unet", "resnet", "resnet_9blocks", "resnet_6blocks", "global",
                   "unet_timm"},
    "discriminators": {"patchgan", "pixel", "multiscale"},
    "losses": {"vanilla", "lsgan", "hinge", "wgangp", "l1", "l2", "ssim", "feature_matching", "perceptual"},
    "tasks": {"paired"},
    "sources": {"aligned"},
}


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    site = tmp_path / "site"
    make_distribution(site, "i2i-good", "good", "i2i_good_plugin", GOOD)
    make_distribution(site, "i2i-broken", "broken", "i2i_broken_plugin", RAISES_AT_IMPORT)
    make_distribution(site, "i2i-misspelt", "misspelt", "i2i_misspelt_plugin", MISSPELT_HOOK)
    make_distribution(site, "i2i-dup", "dup", "i2i_dup_plugin", DUPLICATE)
    make_distribution(site, "i2i-regfail", "regfail", "i2i_regfail_plugin", REGISTER_RAISES)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("I2I_LOAD_PLUGINS", raising=False)
    return site


def by_name(plugins):
    return {info.name: info for info in plugins.infos}


def test_builtins_load_through_the_entry_point_group(monkeypatch):
    monkeypatch.setenv("I2I_LOAD_PLUGINS", "")
    plugins = load_plugins()
    infos = by_name(plugins)
    for kind, names in BUILTIN_COMPONENTS.items():
        assert names <= set(plugins[kind].names())
        for name in names:
            component = plugins[kind].get(name)
            assert infos[component.plugin].builtin
            assert infos[component.plugin].module.startswith("i2i_plugins.")
    assert all(info.error is None for info in plugins.infos)


def test_third_party_components_are_attributed(third_party):
    plugins = load_plugins()
    good = by_name(plugins)["good"]
    assert good.builtin is False and good.version == "0.3.1" and good.error is None
    assert good.components == {"generators": ["good_gen"], "losses": ["zero"]}
    assert plugins["generators"].get("good_gen").plugin == "good"


def test_plugin_raising_at_import_is_reported_and_others_work(third_party):
    plugins = load_plugins()
    broken = by_name(plugins)["broken"]
    assert "failed to load: RuntimeError: this plugin is broken on purpose" in broken.error
    assert "good_gen" in plugins["generators"] and "unet_256" in plugins["generators"]


def test_misspelt_hook_fails_loudly_via_check_pending(third_party):
    misspelt = by_name(load_plugins())["misspelt"]
    assert "not loaded" in misspelt.error and "register_generator" in misspelt.error


def test_duplicate_component_names_both_plugins_and_keeps_the_rest(third_party):
    plugins = load_plugins()
    dup = by_name(plugins)["dup"]
    assert "'unet_256' from plugin 'dup' is already registered by plugin 'i2i.generators'" in dup.error
    assert plugins["generators"].get("unet_256").plugin == "i2i.generators"
    assert plugins["generators"].get("dup_ok").plugin == "dup"


def test_failing_registration_hook_is_reported(third_party):
    info = by_name(load_plugins())["regfail"]
    assert "register_discriminators failed: ValueError: cannot register today" in info.error


def test_env_switch_restricts_and_disables_third_party(third_party, monkeypatch):
    monkeypatch.setenv("I2I_LOAD_PLUGINS", "good")
    names = set(by_name(load_plugins()))
    assert "good" in names and "broken" not in names and "i2i.generators" in names
    monkeypatch.setenv("I2I_LOAD_PLUGINS", "i2i-broken")  # a distribution name works too
    assert "broken" in set(by_name(load_plugins()))
    monkeypatch.setenv("I2I_LOAD_PLUGINS", "")
    assert all(info.builtin for info in load_plugins().infos)


def test_cli_lists_broken_plugin_and_keeps_working(third_party):
    env = {"PYTHONPATH": str(third_party)}
    result = run_i2i("list-plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert set(listed["broken"]) >= {"name", "version", "builtin", "components", "error"}
    assert "this plugin is broken on purpose" in listed["broken"]["error"]
    assert listed["good"]["builtin"] is False and listed["good"]["components"]["generators"] == ["good_gen"]
    assert listed["i2i.generators"]["builtin"] is True and listed["i2i.generators"]["error"] is None
    assert run_i2i("recipe", "check", "recipes/facades.toml", env=env).returncode == 0
    table = run_i2i("list-plugins", env=env)
    assert table.returncode == 0 and "broken" in table.stdout
