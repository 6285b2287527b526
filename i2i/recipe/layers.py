"""Reading recipe files and ``--set`` overrides, and layering them.

Layers, lowest first: the core defaults, the task preset's ``recipe_defaults``, the
recipe file, then ``--set`` values. A component table whose ``name`` changes in a higher
layer replaces the lower one instead of merging (the options of ``unet_256`` mean nothing
to ``resnet_9blocks``), except in the sections whose options mean the same for every
component that takes them (``source.root``, ``optim.lr_g``, ``schedule.warmup_steps``):
there the lower layers' options that the new component takes too are kept. A table
without ``name`` means its section's default component. In ``[optim]`` an option for both
networks (``lr``) replaces the lower layers' values of that option for one network
(``lr_g``, ``lr_d``).
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from collections.abc import Callable
from typing import Any

from i2i.errors import RecipeError, UsageError
from i2i.recipe.schema import COMPONENT_SECTIONS, DEFAULT_NAMES, KEPT_ON_RENAME, NETWORKS

#: ``accepts(section, name)``: the options component ``name`` of ``section`` takes, or None.
Accepts = Callable[[str, str], "set[str] | None"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a recipe file, or the shipped recipe a name names (``medical_ct``); a missing
    file or a syntax error names the file."""
    from i2i.recipe.named import recipe_file

    path = recipe_file(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (some Windows editors) is dropped
    except FileNotFoundError:
        raise UsageError(f"{path}: no such recipe file") from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise UsageError(f"{path}: cannot read recipe: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(str(path), [("", f"invalid TOML: {exc}")]) from None


def parse_value(text: str) -> Any:
    """A ``--set`` value in TOML syntax; a bare word (the shell ate its quotes) is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        stripped = text.strip()
        if stripped and stripped[0] in "[{\"'":
            raise
        return stripped


def parse_sets(source: str, sets: list[str] | tuple[str, ...]) -> tuple[dict[str, Any], set[str]]:
    """``["train.steps=20", ...]`` as a nested table plus the dotted keys it sets."""
    layer: dict[str, Any] = {}
    keys: set[str] = set()
    problems: list[tuple[str, str]] = []
    for item in sets:
        dotted, sep, raw = item.partition("=")
        dotted = dotted.strip()
        parts = dotted.split(".")
        if not sep or not dotted or any(not p for p in parts):
            problems.append(("", f"--set {item!r}: expected KEY=VALUE with a dotted KEY, e.g. train.steps=20"))
            continue
        try:
            value = parse_value(raw)
        except tomllib.TOMLDecodeError as exc:
            problems.append((dotted, f"--set value {raw!r} is not a TOML value: {exc}"))
            continue
        table = layer
        for part in parts[:-1]:
            nxt = table.setdefault(part, {})
            if not isinstance(nxt, dict):
                nxt = table[part] = {}
            table = nxt
        table[parts[-1]] = value
        keys.add(dotted)
    if problems:
        raise RecipeError(source, problems)
    return layer, keys


def merge(base: dict[str, Any], over: dict[str, Any], accepts: Accepts | None = None) -> dict[str, Any]:
    """``over`` layered on ``base`` (neither is modified); ``accepts`` tells which lower
    options survive a change of component in the sections that keep them."""
    out = copy.deepcopy(base)
    for section, value in over.items():
        lower = out.get(section)
        if not (isinstance(value, dict) and isinstance(lower, dict)):
            out[section] = copy.deepcopy(value)
        elif section in COMPONENT_SECTIONS:
            kept = None
            if accepts is not None and section in KEPT_ON_RENAME and isinstance(value.get("name"), str):
                kept = accepts(section, value["name"])
            out[section] = _merge_component(lower, value, DEFAULT_NAMES.get(section), kept)
            if section == "optim":
                for per_network in [f"{k}_{n}" for k in value for n in NETWORKS if f"{k}_{n}" not in value]:
                    out[section].pop(per_network, None)  # lower layers' lr_g/lr_d give way to a higher lr
        elif section == "losses":
            out[section] = {
                **lower,
                **{label: _merge_component(lower.get(label, {}), spec) if isinstance(spec, dict) else spec
                   for label, spec in value.items()},
            }
        else:
            out[section] = _deep_merge(lower, value)
    return out


def _merge_component(lower: Any, upper: dict[str, Any], default: str | None = None,
                     kept: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(lower, dict):
        return copy.deepcopy(upper)
    if "name" in upper and upper["name"] != lower.get("name", default):
        lower = {k: v for k, v in lower.items() if kept is not None and k in kept}
    return _deep_merge(lower, upper)


def _deep_merge(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(lower)
    for k, v in upper.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
