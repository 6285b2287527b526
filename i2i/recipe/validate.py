"""Validation: layered TOML tables -> a frozen :class:`~i2i.recipe.model.Recipe`.

Every problem is collected and reported at once as ``FILE: dotted.key: message`` lines.
Layers in the old layout (the source in ``[data]``) are upgraded first, with one
deprecation note (:mod:`i2i.recipe.layout`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from i2i.data.augment_ops import check_augmentation
from i2i.data.source import warn_once
from i2i.errors import RecipeError, close_matches, did_you_mean, one_of
from i2i.metrics import MetricTable
from i2i.plugins import Plugins, get_plugins
from i2i.recipe.components import ComponentChecks, nonfinite
from i2i.recipe.layers import merge, parse_sets, read_toml
from i2i.recipe.layout import Upgrade, drop_flat_schedule_keys, upgrade_layer
from i2i.recipe.model import ComponentSpec, LossSpec, Recipe, freeze
from i2i.recipe.pytorch_limits import sync_batchnorm_problem
from i2i.recipe.schema import (
    ALL_SECTIONS,
    COMPONENT_SECTIONS,
    CORE_SECTIONS,
    DEFAULT_NAMES,
    NETWORKS,
    AugmentSection,
)
from i2i.typecheck import check_value, coerce, resolved_parameters

#: Component sections built by their own checks rather than the generic one.
_SPECIAL = ("optim",)


def load_recipe(path: str | Path, sets: list[str] | tuple[str, ...] = (), plugins: Plugins | None = None) -> Recipe:
    """Read, layer and validate a recipe file with ``--set`` overrides."""
    source = str(path)
    file_layer = read_toml(path)
    set_layer, set_keys = parse_sets(source, sets)
    return resolve(source, file_layer, set_layer, set_keys, plugins or get_plugins())


def resolve(source: str, file_layer: dict[str, Any], set_layer: dict[str, Any] | None = None,
            set_keys: set[str] | None = None, plugins: Plugins | None = None, announce: bool = True) -> Recipe:
    """Layer task defaults, the recipe file and overrides, and validate the result. Layers in
    the old layout are upgraded; ``announce`` prints the one-line deprecation note then (off
    for recipes stored in checkpoints, which their users cannot rewrite)."""
    plugins = plugins or get_plugins()
    upgrade = Upgrade()
    sources = {p for c in plugins["sources"] for p in c.parameters() if p not in plugins["sources"].provided}
    accepts = functools.partial(_accepted_options, plugins)
    user = merge(upgrade_layer(file_layer, sources, upgrade), upgrade_layer(set_layer or {}, sources, upgrade), accepts)
    defaults = _task_defaults(user, plugins)
    origin = f"task {defaults['task']['name']!r} recipe_defaults"
    tables = merge(upgrade_layer(defaults, sources, upgrade, origin), user, accepts)
    drop_flat_schedule_keys(tables, accepts, upgrade)
    checker = _Checker(source, plugins, set_keys or set(), upgrade.written_as)
    checker.problems += upgrade.problems
    recipe = checker.recipe(tables)
    if checker.problems:
        raise RecipeError(source, checker.problems)
    note = upgrade.note(tables)
    if note and announce:
        warn_once(f"{source}: {note}")
    return recipe


def _accepted_options(plugins: Plugins, section: str, name: str) -> set[str] | None:
    """The recipe keys component ``name`` of ``section`` takes (``[optim]``: per network too)."""
    registry = plugins[COMPONENT_SECTIONS[section]]
    if not isinstance(name, str) or name not in registry:
        return None
    accepted = {p for p in registry.get(name).parameters() if p not in registry.provided}
    return accepted | {f"{p}_{n}" for p in accepted for n in NETWORKS} if section == "optim" else accepted


def _task_defaults(user: dict[str, Any], plugins: Plugins) -> dict[str, Any]:
    task = user.get("task", {})
    name = task.get("name", DEFAULT_NAMES["task"]) if isinstance(task, dict) else DEFAULT_NAMES["task"]
    if name not in plugins["tasks"]:
        return {"task": {"name": name}}
    defaults = getattr(plugins["tasks"].get(name).factory, "recipe_defaults", {}) or {}
    return merge(dict(defaults), {"task": {"name": name}})


class _Checker(ComponentChecks):
    """Collects problems while building the recipe's parts."""

    def __init__(self, source: str, plugins: Plugins, set_keys: set[str], written_as: dict[str, str]):
        self.source = source
        self.plugins = plugins
        self.set_keys = set_keys
        self.written_as = written_as
        self.problems: list[tuple[str, str]] = []

    def add(self, dotted: str, message: str) -> None:
        """Record a problem under the key as the user wrote it (``data.root`` for ``source.root``)."""
        dotted = self.written_as.get(dotted, dotted)
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
        components = {section: self.component(section, tables.get(section))
                      for section in COMPONENT_SECTIONS if section not in _SPECIAL}
        optim = self.optimizer(tables.get("optim", {}))
        losses = self.losses(tables.get("losses", {}))
        plugin_tables = self.plugin_tables(tables.get("plugins", {}))
        if core["train"].mode == "supervised":
            components["discriminator"], losses = None, self.without_discriminator_terms(losses)
        self.cross_checks(core, components, losses)
        unknown = {section: ComponentSpec(DEFAULT_NAMES.get(section, "?"), freeze({})) for section in COMPONENT_SECTIONS}
        return Recipe(
            path=self.source,
            losses=losses,
            optim=optim,
            discriminator=components.pop("discriminator"),
            plugins=freeze(plugin_tables),
            **{section: spec or unknown[section] for section, spec in components.items()},
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
                hint, where = did_you_mean(key, known), ""
                if name == "data":
                    where = "; the data source's name, root and options go in [source]"
                    options = {p for c in self.plugins["sources"] for p in c.parameters()}
                    matches = [f"source.{m}" for m in close_matches(key, options)]
                    hint = hint or (f" (did you mean {' or '.join(map(repr, matches))}?)" if matches else "")
                self.add(dotted, f"unknown key{hint}; [{name}] accepts: {one_of(known)}{where}")
                continue
            message = check_value(value, hints[key]) or nonfinite(value) or _bounds(value, known[key].metadata)
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

    # -- across sections ----------------------------------------------------------------

    def without_discriminator_terms(self, losses: tuple[LossSpec, ...]) -> tuple[LossSpec, ...]:
        """``train.mode = "supervised"``: the losses that need no discriminator (adversarial and
        feature-matching ones, by their factory's ``role``, are left out)."""
        registry = self.plugins["losses"]
        return tuple(loss for loss in losses if loss.name not in registry or getattr(
            registry.get(loss.name).factory, "role", "reconstruction") not in ("adversarial", "feature_matching"))

    def cross_checks(self, core: dict[str, Any], components: dict[str, Any], losses: tuple[LossSpec, ...]) -> None:
        data = core["data"]
        if data.preprocess == "resize_and_crop" and data.crop_size > data.load_size:
            self.add("data.crop_size", f"{data.crop_size} is larger than data.load_size {data.load_size}; "
                                       "the crop must fit in the resized image")
        augment = core["augment"]
        if augment.test_time and not (augment.flip or augment.vflip or augment.rot90):
            self.add("augment.test_time", "true averages over the transforms training uses, and augment.flip, "
                                          "augment.vflip and augment.rot90 are all false; set one of them true")
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
        train = core["train"]
        if train.sync_batchnorm and adversarial:
            spec = next(loss for loss in losses if loss.label == adversarial[0])
            problem = sync_batchnorm_problem(self.plugins, components["task"], components["discriminator"], spec)
            if problem:
                self.add("train.sync_batchnorm", problem)
        if train.steps is None and train.epochs is None:
            self.add("train.steps", "set train.steps (optimisation steps) or train.epochs")
        self.metric_checks(core, components["task"], components["schedule"])
        if not any(loss.weight != 0 for loss in losses):
            self.add("losses", "no loss term with a non-zero weight: add a [losses.LABEL] table, e.g. "
                               "[losses.l1] name = \"l1\", weight = 100")

    def metric_checks(self, core: dict[str, Any], task_spec: ComponentSpec | None,
                      schedule: ComponentSpec | None) -> None:
        """``train.best_metric`` and a schedule's ``metric`` option (plateau's) must name a
        metric the task's validation logs (the task is built to ask it; tasks are cheap)."""
        wanted = [("train.best_metric", core["train"].best_metric)]
        if schedule is not None and "metric" in schedule.options:
            wanted.append(("schedule.metric", schedule.options["metric"]))
        wanted = [(key, name) for key, name in wanted if name is not None]
        if not wanted or task_spec is None:
            return
        try:
            task = self.plugins["tasks"].build(task_spec.name, task_spec.options)
            table = MetricTable.registered(self.plugins["metrics"], task)
        except Exception:  # noqa: BLE001 - the task's own error is reported when the run builds it
            return
        names = table.validation_names(ema=bool(core["train"].ema_decay), baseline=task.has_baseline)
        for key, name in wanted:
            if name not in names:
                self.add(key, f"{name!r} is not a metric this task's validation logs{did_you_mean(name, names)}; "
                              f"it logs: {one_of(names)}")


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
