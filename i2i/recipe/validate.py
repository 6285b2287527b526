"""Validation: layered TOML tables -> a frozen :class:`~i2i.recipe.model.Recipe`.

Every problem is collected and reported at once as ``FILE: dotted.key: message`` lines.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from i2i.errors import RecipeError, did_you_mean, one_of
from i2i.plugins import Plugins, get_plugins
from i2i.recipe.layers import merge, parse_sets, read_toml
from i2i.recipe.model import ComponentSpec, LossSpec, Recipe, freeze
from i2i.recipe.schema import ALL_SECTIONS, COMPONENT_SECTIONS, CORE_SECTIONS, AugmentSection, DataSection
from i2i.data.augment_ops import check_augmentation
from i2i.typecheck import check_value, coerce, resolved_parameters

DEFAULT_TASK = "paired"
NO_DISCRIMINATOR = "none"
#: The keys of a ``[losses.LABEL]`` table besides the loss's own options.
LOSS_KEYS = ("name", "weight")


def load_recipe(path: str | Path, sets: list[str] | tuple[str, ...] = (), plugins: Plugins | None = None) -> Recipe:
    """Read, layer and validate a recipe file with ``--set`` overrides."""
    source = str(path)
    file_layer = read_toml(path)
    set_layer, set_keys = parse_sets(source, sets)
    return resolve(source, file_layer, set_layer, set_keys, plugins or get_plugins())


def resolve(source: str, file_layer: dict[str, Any], set_layer: dict[str, Any] | None = None,
            set_keys: set[str] | None = None, plugins: Plugins | None = None) -> Recipe:
    """Layer task defaults, the recipe file and overrides, and validate the result."""
    plugins = plugins or get_plugins()
    user = merge(file_layer, set_layer or {})
    tables = merge(_task_defaults(user, plugins), user)
    checker = _Checker(source, plugins, set_keys or set())
    recipe = checker.recipe(tables)
    if checker.problems:
        raise RecipeError(source, checker.problems)
    return recipe


def _task_defaults(user: dict[str, Any], plugins: Plugins) -> dict[str, Any]:
    task = user.get("task", {})
    name = task.get("name", DEFAULT_TASK) if isinstance(task, dict) else DEFAULT_TASK
    if name not in plugins["tasks"]:
        return {"task": {"name": name}}
    defaults = getattr(plugins["tasks"].get(name).factory, "recipe_defaults", {}) or {}
    return merge(dict(defaults), {"task": {"name": name}})


class _Checker:
    """Collects problems while building the recipe's parts."""

    def __init__(self, source: str, plugins: Plugins, set_keys: set[str]):
        self.source = source
        self.plugins = plugins
        self.set_keys = set_keys
        self.problems: list[tuple[str, str]] = []

    def add(self, dotted: str, message: str) -> None:
        if dotted in self.set_keys:
            message += " (given with --set)"
        self.problems.append((dotted, message))

    def recipe(self, tables: dict[str, Any]) -> Recipe:
        for section in tables:
            if section not in ALL_SECTIONS:
                self.add(section, f"unknown section{did_you_mean(section, ALL_SECTIONS)}; "
                                  f"recipes have: {one_of(ALL_SECTIONS)}")
        core = {name: self.core_section(name, cls, tables.get(name, {}))
                for name, cls in CORE_SECTIONS.items()}
        source = self.source_spec(tables.get("data", {}))
        components = {section: self.component(section, tables.get(section)) for section in COMPONENT_SECTIONS}
        losses = self.losses(tables.get("losses", {}))
        plugin_tables = self.plugin_tables(tables.get("plugins", {}))
        self.cross_checks(core, components, losses)
        return Recipe(
            path=self.source,
            source=source,
            losses=losses,
            task=components["task"] or ComponentSpec(DEFAULT_TASK, freeze({})),
            generator=components["generator"] or ComponentSpec("?", freeze({})),
            discriminator=components["discriminator"],
            plugins=freeze(plugin_tables),
            **core,
        )

    # -- core sections ----------------------------------------------------------------

    def core_section(self, name: str, cls: type, table: Any) -> Any:
        if not isinstance(table, dict):
            self.add(name, f"expected a table, got {table!r}")
            return cls()
        known = {f.name: f for f in fields(cls)}
        hints = {k: p.annotation for k, p in resolved_parameters(cls).items()}
        values: dict[str, Any] = {}
        for key, value in table.items():
            dotted = f"{name}.{key}"
            if key not in known:
                if cls is DataSection:
                    continue  # source options: checked by source_spec
                self.add(dotted, f"unknown key{did_you_mean(key, known)}; [{name}] accepts: {one_of(known)}")
                continue
            message = check_value(value, hints[key]) or _nonfinite(value) or _bounds(value, known[key].metadata)
            if message:
                self.add(dotted, message)
                continue
            values[key] = freeze(coerce(value, hints[key]))
        if cls is AugmentSection:
            for kind in ("geometric", "photometric"):
                for i, entry in enumerate(values.get(kind, ())):
                    for where, message in check_augmentation(kind, entry):
                        self.add(f"augment.{kind}[{i}]{where}", message)
        return cls(**values)

    def source_spec(self, table: Any) -> ComponentSpec:
        if not isinstance(table, dict):
            return ComponentSpec(DataSection.source, freeze({}))
        name = table.get("source", DataSection.source)
        core = {f.name for f in fields(DataSection)}
        options = {k: v for k, v in table.items() if k not in core}
        registry = self.plugins["sources"]
        if not isinstance(name, str) or name not in registry:
            self.add("data.source", registry.unknown_message(name))
            return ComponentSpec(str(name), freeze(options))
        for key, message in registry.check_options(name, options):
            if "has no option" in message:
                message += f"; core [data] keys: {one_of(core)}"
            self.add(f"data.{key}", message)
        self.finite_options("data", options)
        return ComponentSpec(name, freeze(self.filled(registry, name, options)))

    # -- components -------------------------------------------------------------------

    def component(self, section: str, table: Any) -> ComponentSpec | None:
        registry = self.plugins[COMPONENT_SECTIONS[section]]
        if table is None:
            table = {}
        if not isinstance(table, dict):
            self.add(section, f"expected a table with a 'name' key, got {table!r}")
            return None
        name = table.get("name")
        options = {k: v for k, v in table.items() if k != "name"}
        if section == "discriminator" and name in (None, NO_DISCRIMINATOR):
            if options:
                self.add(section, f"options given but no discriminator is chosen (name = {NO_DISCRIMINATOR!r})")
            return None
        if name is None:
            self.add(f"{section}.name", f"missing; choose one of: {one_of(registry.names())}")
            return None
        if not isinstance(name, str) or name not in registry:
            self.add(f"{section}.name", registry.unknown_message(name))
            return None
        for key, message in registry.check_options(name, options):
            self.add(f"{section}.{key}", message)
        self.finite_options(section, options)
        return ComponentSpec(name, freeze(self.filled(registry, name, options)))

    def losses(self, table: Any) -> tuple[LossSpec, ...]:
        if not isinstance(table, dict):
            self.add("losses", f"expected a table of [losses.LABEL] tables, got {table!r}")
            return ()
        registry = self.plugins["losses"]
        specs = []
        for label, spec in table.items():
            where = f"losses.{label}"
            if not isinstance(spec, dict):
                self.add(where, f"expected a table like {{ name = \"l1\", weight = 100 }}, got {spec!r}")
                continue
            name = spec.get("name", label)
            weight = spec.get("weight", 1.0)
            options = {k: v for k, v in spec.items() if k not in ("name", "weight")}
            problem = check_value(weight, float) or _nonfinite(weight) or _bounds(weight, {"ge": 0})
            if problem:
                self.add(f"{where}.weight", problem + ("; 0 switches the term off" if "must be >=" in problem else ""))
                continue
            if not isinstance(name, str) or name not in registry:
                self.add(f"{where}.name", registry.unknown_message(name))
                continue
            accepted = [p for p in registry.get(name).parameters() if p not in registry.provided]
            for key, message in registry.check_options(name, options):
                if key not in accepted and key not in registry.provided:
                    own = f"the options of loss {name!r}: {one_of(accepted)}" if accepted else \
                        f"no options (loss {name!r} has none)"
                    message = (f"unknown key{did_you_mean(key, [*LOSS_KEYS, *accepted])}; a [losses.LABEL] table "
                               f"takes {one_of(LOSS_KEYS)} and {own}")
                self.add(f"{where}.{key}", message)
            self.finite_options(where, options)
            specs.append(LossSpec(label, name, float(weight), freeze(self.filled(registry, name, options))))
        return tuple(specs)

    def plugin_tables(self, table: Any) -> dict[str, Any]:
        """``[plugins.NAME]`` option tables for event plugins, named by a loaded plugin."""
        if not isinstance(table, dict):
            self.add("plugins", f"expected a table of [plugins.NAME] tables, got {table!r}")
            return {}
        names = {info.name for info in self.plugins.infos}
        known = names | {n.removeprefix("i2i.") for n in names}
        for name, options in table.items():
            if name not in known:
                self.add(f"plugins.{name}", f"no plugin {name!r} is loaded{did_you_mean(name, known)}; "
                                            f"loaded: {one_of(known)}")
            elif not isinstance(options, dict):
                self.add(f"plugins.{name}", f"expected a table of the plugin's options, got {options!r}")
        return table

    def finite_options(self, section: str, options: dict[str, Any]) -> None:
        """NaN and infinity are refused in every component option (TOML has them; no option means them)."""
        for key, value in options.items():
            message = _nonfinite(value)
            if message:
                self.add(f"{section}.{key}", message)

    def filled(self, registry: Any, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """Options with the factory's defaults filled in, for the resolved recipe."""
        filled = {k: v for k, v in registry.get(name).defaults().items() if k not in registry.provided}
        params = registry.get(name).parameters()
        filled.update({k: coerce(v, params[k].annotation) if k in params else v for k, v in options.items()})
        return filled

    # -- across sections ----------------------------------------------------------------

    def cross_checks(self, core: dict[str, Any], components: dict[str, Any], losses: tuple[LossSpec, ...]) -> None:
        data = core["data"]
        if data.preprocess == "resize_and_crop" and data.crop_size > data.load_size:
            self.add("data.crop_size", f"{data.crop_size} is larger than data.load_size {data.load_size}; "
                                       "the crop must fit in the resized image")
        registry = self.plugins["losses"]
        adversarial = [loss.label for loss in losses if loss.weight != 0
                       and getattr(registry.get(loss.name).factory, "role", None) == "adversarial"]
        if len(adversarial) > 1:
            self.add("losses", f"only one adversarial loss may be used, got {', '.join(adversarial)}")
        if adversarial and components["discriminator"] is None and "discriminator" not in {
                k.split(".")[0] for k, _ in self.problems}:
            self.add("discriminator.name", f"losses.{adversarial[0]} is adversarial and needs a discriminator; "
                                           f"choose one of: {one_of(self.plugins['discriminators'].names())}")
        if data.group_pattern is not None:
            try:
                re.compile(data.group_pattern)
            except re.error as exc:
                self.add("data.group_pattern", f"{data.group_pattern!r} is not a valid regular expression: {exc}")
        optim = core["optim"]
        for name in ("betas_g", "betas_d"):
            betas = getattr(optim, name)
            if not all(0 <= b < 1 for b in betas):
                self.add(f"optim.{name}", f"each beta must be in [0, 1), got {list(betas)}")
        train = core["train"]
        if train.steps is None and train.epochs is None:
            self.add("train.steps", "set train.steps (optimisation steps) or train.epochs")
        self.metric_checks(core, components["task"])
        if not any(loss.weight != 0 for loss in losses):
            self.add("losses", "no loss term with a non-zero weight: add a [losses.LABEL] table, e.g. "
                               "[losses.l1] name = \"l1\", weight = 100")

    def metric_checks(self, core: dict[str, Any], task_spec: ComponentSpec | None) -> None:
        """``train.best_metric`` and the plateau schedule's ``schedule.metric`` must name a
        metric the task's validation logs (the task is built to ask it; tasks are cheap)."""
        wanted = [("train.best_metric", core["train"].best_metric)]
        if core["schedule"].name == "plateau":
            wanted.append(("schedule.metric", core["schedule"].metric))
        wanted = [(key, name) for key, name in wanted if name is not None]
        if not wanted or task_spec is None:
            return
        from i2i.evaluation.metrics import validation_metric_names

        try:
            task = self.plugins["tasks"].build(task_spec.name, task_spec.options)
        except Exception:  # noqa: BLE001 - the task's own error is reported when the run builds it
            return
        names = validation_metric_names(task, ema=bool(core["train"].ema_decay))
        for key, name in wanted:
            if name not in names:
                self.add(key, f"{name!r} is not a metric this task's validation logs{did_you_mean(name, names)}; "
                              f"it logs: {one_of(names)}")


def _nonfinite(value: Any) -> str | None:
    """A message when ``value`` (or a number inside a list or table) is NaN or infinite."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if isinstance(value, (list, tuple)):
        return next((f"must hold finite numbers, got {list(value)!r}" for v in value if _nonfinite(v)), None)
    if isinstance(value, dict):
        return next((f"{k}: {_nonfinite(v)}" for k, v in value.items() if _nonfinite(v)), None)
    return None


def _bounds(value: Any, meta: Any) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if meta.get("ge") is not None and value < meta["ge"]:
        return f"must be >= {meta['ge']}, got {value!r}"
    if meta.get("gt") is not None and value <= meta["gt"]:
        return f"must be > {meta['gt']}, got {value!r}"
    if meta.get("le") is not None and value > meta["le"]:
        return f"must be <= {meta['le']}, got {value!r}"
    return None
