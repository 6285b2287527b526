"""Recipe layouts: the ``data.root`` alias, the old layout upgraded, and the layout digests hash.

Before ``[source]``, ``[schedule]`` and ``[optim]`` were component sections, ``[data]`` held
the source's name (``data.source``) and options (``data.direction``...), and ``[schedule]``
every option of every built-in schedule (a run's resolved ``recipe.toml`` wrote them all).
Such recipes still load: :func:`upgrade_layer` moves the source keys of a layer to
``[source]`` and :func:`drop_flat_schedule_keys` drops the keys the chosen schedule does
not take, and :class:`Upgrade` says in one line what to write instead. ``data.root`` is
not deprecated: it is how every user and document names a data set, an alias of
``source.root``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from i2i.recipe.schema import DEFAULT_NAMES, DataSection, section_keys

#: The flat ``[schedule]`` of the old layout: every key with its default.
OLD_SCHEDULE = {"name": "linear", "decay_start": 0.5, "warmup_steps": 0, "step_size": 10000, "gamma": 0.1,
                "metric": "val_mae", "factor": 0.2, "patience": 5, "threshold": 0.01, "min_factor": 0.0}
#: The schedules and optimisers of the old layout.
OLD_SCHEDULES = ("constant", "linear", "step", "plateau", "cosine")
OLD_OPTIMIZERS = ("adam", "adamw")


@dataclass
class Upgrade:
    """What upgrading one recipe's layers changed, for the deprecation note and for error
    messages that name the key the user wrote."""

    #: ``old dotted key -> new dotted key`` of the moved keys the note mentions.
    moved: dict[str, str] = field(default_factory=dict)
    #: Old flat ``[schedule]`` keys dropped because the chosen schedule does not take them.
    ignored: list[str] = field(default_factory=list)
    #: New dotted key -> the key the user wrote (``source.root`` -> ``data.root``).
    written_as: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def note(self, tables: dict[str, Any]) -> str | None:
        """The one-line deprecation note, with the moved keys' values in the layered
        ``tables``, or ``None`` when nothing was in the old layout."""
        parts = []
        if self.moved:
            renames = ", ".join(f"{old} -> {new}" for old, new in self.moved.items())
            source = tables.get("source", {})
            table = ", ".join(f"{key} = {json.dumps(source[key])}" for key in
                              dict.fromkeys(new.split(".", 1)[1] for new in self.moved.values()) if key in source)
            parts.append(f"{renames} (the data source and its options are the [source] section now: "
                         f"[source] {table})")
        if self.ignored:
            parts.append(f"remove {', '.join(self.ignored)} (the chosen schedule does not take "
                         f"{'it' if len(self.ignored) == 1 else 'them'}; it had no effect)")
        return f"deprecated recipe layout, still read: {'; '.join(parts)}" if parts else None


def upgrade_layer(layer: dict[str, Any], source_options: set[str], upgrade: Upgrade, origin: str = "") -> dict[str, Any]:
    """One layer (a recipe file, the ``--set`` values, a task's defaults: ``origin``) in the
    current layout: ``data.root`` becomes ``source.root`` (silently), ``data.source`` becomes
    ``source.name`` and ``[data]`` keys that are options of a registered source
    (``source_options``) move to ``[source]`` (recorded in ``upgrade``). Other unknown
    ``[data]`` keys stay, to be reported as such."""
    data = layer.get("data")
    if not isinstance(data, dict):
        return layer
    core = section_keys(DataSection)
    moves = {key: "name" if key == "source" else key for key in data
             if key not in core and (key in ("source", "root") or key in source_options)}
    if not moves:
        return layer
    layer = copy.deepcopy(layer)
    source = layer.setdefault("source", {})
    if not isinstance(source, dict):
        return layer  # reported by validation
    for key, target in moves.items():
        value = layer["data"].pop(key)
        if target in source and source[target] != value:
            upgrade.problems.append((f"data.{key}", f"given as {value!r} and source.{target} as {source[target]!r}; "
                                                    f"keep source.{target}"))
            continue
        source[target] = value
        upgrade.written_as[f"source.{target}"] = f"data.{key}"
        if key != "root":
            upgrade.moved[f"data.{key}" + (f" ({origin})" if origin else "")] = f"source.{target}"
    return layer


def drop_flat_schedule_keys(tables: dict[str, Any], accepts: Callable[[str, str], set[str] | None],
                            upgrade: Upgrade) -> None:
    """Drop the old flat ``[schedule]`` keys that the chosen built-in schedule does not take
    (``accepts("schedule", name)``: its options): silently at their old defaults, as a run's
    ``recipe.toml`` wrote them, else recorded in ``upgrade`` (they never had an effect)."""
    schedule = tables.get("schedule")
    name = schedule.get("name", DEFAULT_NAMES["schedule"]) if isinstance(schedule, dict) else None
    accepted = accepts("schedule", name) if name in OLD_SCHEDULES else None
    if accepted is None:
        return
    for key in [k for k in schedule if k in OLD_SCHEDULE and k != "name" and k not in accepted]:
        if schedule.pop(key) != OLD_SCHEDULE[key]:
            upgrade.ignored.append(f"schedule.{key}")


#: Keys added after recipe digests existed, left out of a digest while at their default, so
#: runs made before they existed keep their digest and still resume (a new key of a core
#: section or a built-in component gets a line here).
ADDED_AT_DEFAULT: dict[tuple[str, str], object] = {
    ("train", "mode"): "gan",
    ("train", "final_eval_checkpoint"): "best",
    ("run", "deterministic"): False,
    ("data", "slab_position"): 0.5,
    ("data", "slab_count"): 1,
    ("data", "slab_gap"): 2,
    ("source", "include_derived"): False,
    ("source", "pixel_size_mm"): None,
    ("augment", "test_time"): False,
}


def digest_layout(content: dict[str, Any]) -> dict[str, Any]:
    """Resolved recipe tables (:meth:`Recipe.as_dict`) in the layout recipe digests are
    computed over: the old one (the source's name and options in ``[data]``; the flat
    ``[schedule]`` and ``[optim]`` of the built-in schedules and optimisers), so runs and
    checkpoints made before the current layout keep their digest and still resume."""
    out = copy.deepcopy(content)
    for (section, name), default in ADDED_AT_DEFAULT.items():
        if section in out and out[section].get(name, default) == default:
            out[section].pop(name, None)
    source = out.pop("source", None)
    if source is not None:
        out["data"] = {**out.get("data", {}), "source": source.pop("name"), **source}
    schedule = out.get("schedule")
    if schedule is not None and schedule.get("name") in OLD_SCHEDULES:
        out["schedule"] = {**OLD_SCHEDULE, **schedule}
    optim = out.get("optim")
    if optim is not None and optim.get("name") in OLD_OPTIMIZERS and set(optim) == {
            "name", "lr_g", "lr_d", "betas_g", "betas_d", "weight_decay_g", "weight_decay_d"} \
            and optim["weight_decay_g"] == optim["weight_decay_d"]:
        optim["weight_decay"] = optim.pop("weight_decay_g")
        del optim["weight_decay_d"]
    return out
