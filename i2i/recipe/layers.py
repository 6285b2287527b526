"""Reading recipe files and ``--set`` overrides, and layering them.

Layers, lowest first: the core defaults, the task preset's ``recipe_defaults``, the
recipe file, then ``--set`` values. A component table whose ``name`` changes in a higher
layer replaces the lower one instead of merging (the options of ``unet_256`` mean nothing
to ``resnet_9blocks``); likewise a change of ``data.source`` drops the lower layers'
source options.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from i2i.errors import RecipeError, UsageError
from i2i.recipe.schema import COMPONENT_SECTIONS, DataSection, section_keys


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


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` layered on ``base`` (neither is modified)."""
    out = copy.deepcopy(base)
    for section, value in over.items():
        lower = out.get(section)
        if not (isinstance(value, dict) and isinstance(lower, dict)):
            out[section] = copy.deepcopy(value)
        elif section in COMPONENT_SECTIONS:
            out[section] = _merge_component(lower, value)
        elif section == "losses":
            out[section] = {
                **lower,
                **{label: _merge_component(lower.get(label, {}), spec) if isinstance(spec, dict) else spec
                   for label, spec in value.items()},
            }
        elif section == "data":
            out[section] = _merge_data(lower, value)
        else:
            out[section] = _deep_merge(lower, value)
    return out


def _merge_component(lower: Any, upper: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(lower, dict) or ("name" in upper and upper["name"] != lower.get("name")):
        return copy.deepcopy(upper)
    return _deep_merge(lower, upper)


def _merge_data(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    if "source" in upper and upper["source"] != lower.get("source", DataSection.source):
        core = section_keys(DataSection)
        lower = {k: v for k, v in lower.items() if k in core}
    return _deep_merge(lower, upper)


def _deep_merge(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(lower)
    for k, v in upper.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
