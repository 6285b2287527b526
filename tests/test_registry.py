"""Registries: attribution, duplicates, unknown names, option checks against signatures."""

from __future__ import annotations

from typing import Literal

import pytest

from i2i.errors import ComponentError
from i2i.registry import Registry


def net(in_channels: int, out_channels: int, width: int = 8, norm: Literal["batch", "none"] = "batch",
        scale: float = 1.0, required_thing: str | None = None):
    """A test factory."""
    return (in_channels, out_channels, width, norm, scale)


def needs(path: str, gain: float = 1.0):
    return path


@pytest.fixture
def registry() -> Registry:
    r = Registry("generators", provided=("in_channels", "out_channels"))
    r.add("tiny_net", net, plugin="alpha")
    r.add("needs_path", needs, plugin="alpha")
    return r


def test_entry_remembers_its_plugin_and_description(registry):
    c = registry.get("tiny_net")
    assert (c.plugin, c.kind, c.name) == ("alpha", "generators", "tiny_net")
    assert c.description == "A test factory."


def test_duplicate_name_names_both_plugins(registry):
    with pytest.raises(ComponentError) as err:
        registry.add("tiny_net", net, plugin="beta")
    assert "'beta'" in str(err.value) and "'alpha'" in str(err.value)
    assert registry.get("tiny_net").plugin == "alpha"


def test_unknown_name_lists_close_matches_and_available(registry):
    with pytest.raises(ComponentError) as err:
        registry.get("tiny_nt")
    message = str(err.value)
    assert "did you mean 'tiny_net'" in message
    assert "available: 'needs_path', 'tiny_net'" in message


def test_options_checked_against_signature(registry):
    problems = dict(registry.check_options("tiny_net", {"widht": 3, "norm": "bach", "scale": "x"}))
    assert "did you mean 'width'" in problems["widht"]
    assert "it accepts: 'norm', 'required_thing', 'scale', 'width'" in problems["widht"]
    assert problems["norm"] == "expected one of 'batch', 'none', got 'bach'"
    assert problems["scale"] == "expected a number, got 'x'"


def test_provided_options_may_not_be_set(registry):
    problems = dict(registry.check_options("tiny_net", {"in_channels": 3}))
    assert "set by i2i itself" in problems["in_channels"]


def test_missing_required_option_reported():
    r = Registry("sources")
    r.add("needs_path", needs, plugin="alpha")
    problems = dict(r.check_options("needs_path", {"gain": 2}))
    assert "requires option 'path'" in problems["path"]


def test_build_coerces_and_passes_provided(registry):
    built = registry.build("tiny_net", {"scale": 2, "width": 16}, in_channels=1, out_channels=3)
    assert built == (1, 3, 16, "batch", 2.0)
    assert isinstance(built[4], float)


def test_build_rejects_bad_options_before_calling(registry):
    with pytest.raises(ComponentError, match="generator.width: expected an integer"):
        registry.build("tiny_net", {"width": "wide"}, in_channels=1, out_channels=1)
