"""Validation of the recipe's component sections: ``name`` plus the factory's options,
checked against its signature (types, bounds, unknown and missing options), defaults
filled in for the resolved recipe."""

from __future__ import annotations

import math
from typing import Any

from i2i.errors import did_you_mean, one_of
from i2i.recipe.model import ComponentSpec, LossSpec, OptimizerSpec, freeze
from i2i.recipe.schema import COMPONENT_SECTIONS, DEFAULT_NAMES, NETWORKS
from i2i.typecheck import check_value, coerce

NO_DISCRIMINATOR = "none"
#: The keys of a ``[losses.LABEL]`` table besides the loss's own options.
LOSS_KEYS = ("name", "weight")


class ComponentChecks:
    """Component checks of the recipe checker (which provides ``plugins`` and ``add``)."""

    plugins: Any

    def add(self, dotted: str, message: str) -> None:
        raise NotImplementedError

    def component(self, section: str, table: Any) -> ComponentSpec | None:
        """``[generator]``, ``[source]``...: the chosen component and its resolved options."""
        registry = self.plugins[COMPONENT_SECTIONS[section]]
        if table is None:
            table = {}
        if not isinstance(table, dict):
            self.add(section, f"expected a table with a 'name' key, got {table!r}")
            return None
        name = table.get("name", DEFAULT_NAMES.get(section))
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
        return ComponentSpec(name, freeze(self.checked(section, registry, name, options)))

    def checked(self, where: str, registry: Any, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` checked against component ``name``'s signature; returns them with its defaults filled in."""
        problems = registry.check_options(name, options)
        for key, message in problems:
            self.add(f"{where}.{key}", message)
        self.finite_options(where, {k: v for k, v in options.items() if k not in dict(problems)})
        return self.filled(registry, name, options)

    def optimizer(self, table: Any) -> OptimizerSpec:
        """``[optim]``: each option of the optimiser for both networks (``lr``) or for one
        (``lr_g``, ``lr_d``; the more specific wins), resolved per network."""
        registry = self.plugins["optimizers"]
        table = table if isinstance(table, dict) else {}
        name = table.get("name", DEFAULT_NAMES["optim"])
        if not isinstance(name, str) or name not in registry:
            self.add("optim.name", registry.unknown_message(name))
            return OptimizerSpec(str(name), freeze({}))
        accepted = [p for p in registry.get(name).parameters() if p not in registry.provided]
        if "lr" not in accepted:
            self.add("optim.name", f"optimizer {name!r} (plugin {registry.get(name).plugin!r}) takes no 'lr' option; "
                                   "i2i's schedules scale the learning rate, so an optimiser factory must take lr")
        per_network: dict[str, dict[str, Any]] = {n: {} for n in NETWORKS}
        written: dict[tuple[str, str], str] = {}
        # options for both networks first, so that lr_g / lr_d override lr whatever the order
        for key in sorted((k for k in table if k != "name"), key=lambda k: k not in accepted):
            option, networks = key, tuple(NETWORKS)
            if key not in accepted and key[-2:] in ("_g", "_d") and key[:-2] in accepted:
                option, networks = key[:-2], (key[-1],)
            elif key not in accepted:
                per_key = [f"{p}_{n}" for p in accepted for n in NETWORKS]
                self.add(f"optim.{key}", f"optimizer {name!r} has no option {key!r}{did_you_mean(key, accepted + per_key)}"
                                         f"; it accepts: {one_of(accepted)}, each for both networks or for one "
                                         "with _g (generator) or _d (discriminator), e.g. lr_d")
                continue
            for network in networks:
                per_network[network][option] = table[key]
                written[network, option] = key
        options: dict[str, Any] = {}
        reported: set[str] = set()
        for network, given in per_network.items():
            problems = registry.check_options(name, given)
            problems += [(k, nonfinite(v)) for k, v in given.items() if nonfinite(v) and k not in dict(problems)]
            for option, message in problems:
                key = written.get((network, option), option)
                if key not in reported:
                    reported.add(key)
                    self.add(f"optim.{key}", message)
            options.update({f"{k}_{network}": v for k, v in self.filled(registry, name, given).items()})
        ordered = {f"{k}_{n}": options[f"{k}_{n}"] for k in accepted for n in NETWORKS if f"{k}_{n}" in options}
        return OptimizerSpec(name, freeze(ordered))

    def losses(self, table: Any) -> tuple[LossSpec, ...]:
        """``[losses.LABEL]`` tables: each a loss's ``name``, ``weight`` and options."""
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
            options = {k: v for k, v in spec.items() if k not in LOSS_KEYS}
            problem = check_value(weight, float) or nonfinite(weight) or (
                "must be >= 0, got {!r}; 0 switches the term off".format(weight) if weight < 0 else None)
            if problem:
                self.add(f"{where}.weight", problem)
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
        known = names | {n.removeprefix("i2i.") for n in names} | set(self.plugins["loggers"].names())
        for name, options in table.items():
            if name not in known:
                self.add(f"plugins.{name}", f"no plugin {name!r} is loaded{did_you_mean(name, known)}; "
                                            f"loaded: {one_of(known)}")
            elif not isinstance(options, dict):
                self.add(f"plugins.{name}", f"expected a table of the plugin's options, got {options!r}")
            elif name.removeprefix("i2i.") in self.plugins["loggers"]:
                self.logger_options(name, options)
        return table

    def logger_options(self, name: str, options: dict[str, Any]) -> None:
        """A logger's table: ``enabled`` (true or false) and its factory's options."""
        enabled = options.get("enabled", False)
        if not isinstance(enabled, bool):
            self.add(f"plugins.{name}.enabled", f"must be true or false, got {enabled!r}")
        rest = {k: v for k, v in options.items() if k != "enabled"}
        registry = self.plugins["loggers"]
        for key, message in registry.check_options(name.removeprefix("i2i."), rest, complete=True):
            self.add(f"plugins.{name}.{key}", message)

    def finite_options(self, section: str, options: dict[str, Any]) -> None:
        """NaN and infinity are refused in every component option (TOML has them; no option means them)."""
        for key, value in options.items():
            message = nonfinite(value)
            if message:
                self.add(f"{section}.{key}", message)

    def filled(self, registry: Any, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """Options with the factory's defaults filled in, for the resolved recipe."""
        filled = {k: v for k, v in registry.get(name).defaults().items() if k not in registry.provided}
        params = registry.get(name).parameters()
        filled.update({k: coerce(v, params[k].annotation) if k in params else v for k, v in options.items()})
        return filled


def nonfinite(value: Any) -> str | None:
    """A message when ``value`` (or a number inside a list or table) is NaN or infinite."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    if isinstance(value, (list, tuple)):
        return next((f"must hold finite numbers, got {list(value)!r}" for v in value if nonfinite(v)), None)
    if isinstance(value, dict):
        return next((f"{k}: {nonfinite(v)}" for k, v in value.items() if nonfinite(v)), None)
    return None
