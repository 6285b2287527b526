"""Every hook in the spec is documented for plugin authors and exercised by a test
(the datasette rule), so the plugin API cannot grow silently; and CONTRIBUTING describes
the contracts the spec has, no more and no fewer."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from i2i import hookspecs
from i2i.registry import KINDS

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, f in vars(hookspecs).items()
               if inspect.isfunction(f) and hasattr(f, "i2i_spec"))
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text()
#: CONTRIBUTING's table rows: ``| `hook` | ... |``, hook name -> the row's other cells.
ROWS = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|(.*)\|$", CONTRIBUTING, re.M)}


def test_the_spec_has_hooks():
    assert "register_generators" in HOOKS and "on_step_end" in HOOKS


def test_every_component_kind_has_a_registration_hook():
    kinds = [f"register_{kind}" for kind in KINDS] + ["register_recipes"]  # recipes: files, not components
    assert sorted(kinds) == sorted(h for h in HOOKS if h.startswith("register_"))


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_and_a_row_in_contributing(hook):
    assert inspect.getdoc(getattr(hookspecs, hook)), f"{hook} has no docstring"
    assert hook in ROWS, f"{hook} has no row in CONTRIBUTING.md's hook tables"


def test_contributing_names_no_hook_the_spec_lacks():
    named = set(re.findall(r"`((?:register|on)_\w+)`", CONTRIBUTING))
    assert named <= set(HOOKS), f"CONTRIBUTING.md documents hooks that do not exist: {sorted(named - set(HOOKS))}"


@pytest.mark.parametrize("hook", [h for h in HOOKS if h.startswith("on_")])
def test_event_arguments_in_contributing_are_the_spec_signature(hook):
    documented = re.findall(r"`(\w+)`", ROWS[hook].split("(")[0])
    assert documented == list(inspect.signature(getattr(hookspecs, hook)).parameters), ROWS[hook]


def test_the_loss_contract_names_every_method_the_engine_calls():
    engine = (ROOT / "i2i" / "engine" / "gan_step.py").read_text()
    called = set(re.findall(r"adversarial\.loss\.(\w+)\(", engine))
    assert called == {"discriminator_loss", "generator_loss", "penalty"}
    for method in called:
        assert method in inspect.getdoc(hookspecs.register_losses) and method in ROWS["register_losses"]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_implemented_by_a_test(hook):
    sources = [p.read_text() for p in (ROOT / "tests").glob("*.py") if p.name != Path(__file__).name]
    implemented = re.compile(rf"@hookimpl(\(.*\))?\s*\n\s*def {hook}\(")
    assert any(implemented.search(text) for text in sources), f"no test implements {hook} with @hookimpl"
