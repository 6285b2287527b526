"""Every hook in the spec is documented for plugin authors and exercised by a test
(the datasette rule), so the plugin API cannot grow silently."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from i2i import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, f in vars(hookspecs).items()
               if inspect.isfunction(f) and hasattr(f, "i2i_spec"))


def test_the_spec_has_hooks():
    assert "register_generators" in HOOKS and "on_step_end" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_and_is_in_contributing(hook):
    assert inspect.getdoc(getattr(hookspecs, hook)), f"{hook} has no docstring"
    assert f"`{hook}`" in (ROOT / "CONTRIBUTING.md").read_text(), f"{hook} is not documented in CONTRIBUTING.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook):
    sources = [p.read_text() for p in (ROOT / "tests").glob("*.py") if p.name != Path(__file__).name]
    assert any(f"def {hook}(" in text for text in sources), f"no test implements {hook}"
