"""Loading plugins: built-ins and third-party packages, through the ``i2i`` entry-point group.

Every plugin, built-in or not, is a module named by an entry point in the group ``i2i``.
The environment variable ``I2I_LOAD_PLUGINS`` chooses which third-party plugins load:
unset loads all of them, an empty string loads none, and a comma-separated list loads
only those named (by entry-point or distribution name). Built-ins always load.

A plugin that fails to import (``SystemExit`` and other ``BaseException``s included), that
implements a hook i2i does not have, or whose registration raises is recorded with its
error; the other plugins keep working. Warnings are recorded for a function named like a
hook but not marked ``@hookimpl`` (pluggy ignores it) and for ``I2I_LOAD_PLUGINS`` names
that match no installed plugin. A registry asked for an unknown component names the
plugins that failed to load, since one of them may have offered it.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import os
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from i2i import hookspecs
from i2i.errors import ComponentError, did_you_mean, one_of
from i2i.registry import KINDS, Registry, new_registries
from i2i.shipped_recipes import add_recipe

ENTRY_POINT_GROUP = "i2i"
ENV_LOAD_PLUGINS = "I2I_LOAD_PLUGINS"
#: The distribution of i2i and its built-in plugins (its PEP 503 normalised name).
BUILTIN_DISTRIBUTION = "i2i-toolkit"


@dataclass
class PluginInfo:
    """One plugin as ``i2i list-plugins`` shows it."""

    name: str
    version: str | None
    builtin: bool
    module: str
    components: dict[str, list[str]] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    distribution: str | None = None
    warnings: list[str] = field(default_factory=list)

    def add_error(self, message: str) -> None:
        """Record a problem (several are joined)."""
        self.error = message if not self.error else f"{self.error}; {message}"

    def as_json(self) -> dict[str, Any]:
        """The ``list-plugins --json`` object."""
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "builtin": self.builtin,
            "module": self.module,
            "components": {k: sorted(v) for k, v in self.components.items() if v},
            "hooks": sorted(self.hooks),
            "error": self.error,
            "warnings": list(self.warnings),
        }


@dataclass
class Plugins:
    """The loaded plugins, their registries and the pluggy manager for training events."""

    manager: pluggy.PluginManager
    registries: dict[str, Registry]
    infos: list[PluginInfo]
    warnings: list[str] = field(default_factory=list)
    #: The shipped recipes by name (``register_recipes``): :class:`i2i.shipped_recipes.ShippedRecipe`.
    recipes: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> Registry:
        return self.registries[kind]

    @property
    def hook(self) -> Any:
        """``plugins.hook.on_step_end(...)`` calls every plugin's implementation."""
        return self.manager.hook

    def errors(self) -> list[PluginInfo]:
        """Plugins that failed to load or register."""
        return [info for info in self.infos if info.error]

    def info(self, name: str) -> PluginInfo | None:
        """The plugin called ``name`` (loaded or failed), if any."""
        return next((info for info in self.infos if info.name == name), None)

    def provenance(self, kind: str, component: str) -> dict[str, str | None]:
        """Where component ``component`` of ``kind`` comes from: its name, plugin, and the
        plugin's distribution and version (recorded in every weights file)."""
        plugin = self.registries[kind].get(component).plugin
        info = self.info(plugin)
        return {"name": component, "plugin": plugin, "distribution": info.distribution if info else None,
                "version": info.version if info else None}

    def problems(self) -> list[str]:
        """Every load error and warning as one line each, for the CLI to show."""
        lines = [f"plugin {info.name!r}: {info.error}" for info in self.errors()]
        lines += [f"plugin {info.name!r}: {w}" for info in self.infos for w in info.warnings]
        return lines + self.warnings


def _allowed_third_party() -> set[str] | None:
    value = os.environ.get(ENV_LOAD_PLUGINS)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _short_error(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({frame[0].filename}:{frame[0].lineno})" if frame else ""
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SystemExit):
        what = f"SystemExit (it called sys.exit({exc.code!r}))"
    return f"{what}{where}"


def _caught(exc: BaseException) -> bool:
    """Whether a plugin's exception is recorded rather than raised: everything but Ctrl-C."""
    return not isinstance(exc, KeyboardInterrupt)


def _undecorated_hooks(module: Any) -> list[str]:
    """Functions of ``module`` named like an i2i hook but not marked ``@hookimpl``."""
    hooks = sorted(name for name, spec in vars(hookspecs).items() if hasattr(spec, f"{ENTRY_POINT_GROUP}_spec"))
    return [name for name in hooks if callable(getattr(module, name, None))
            and not hasattr(getattr(module, name), f"{ENTRY_POINT_GROUP}_impl")]


def _register(manager: pluggy.PluginManager, info: PluginInfo, load: Callable[[], Any]) -> None:
    """Import (``load()``) and register one plugin; failures and unmarked hooks are recorded."""
    try:
        module = load()
        manager.register(module, name=info.name)
    except BaseException as exc:  # a broken plugin must not break the CLI, nor exit it
        if not _caught(exc):
            raise
        info.add_error(f"failed to load: {_short_error(exc)}")
        return
    for name in _undecorated_hooks(module):
        info.warnings.append(f"{info.module}: function {name}() is named like an i2i hook but is not marked "
                             "@hookimpl (from i2i import hookimpl), so it is ignored")


def load_plugins(extra: list[tuple[str, Any]] | None = None) -> Plugins:
    """Load the entry-point plugins (plus ``extra`` ``(name, module)`` pairs, for tests)
    and fill one registry per component kind."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    allowed = _allowed_third_party()
    infos: list[PluginInfo] = []
    entry_points = sorted(
        md.entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (not _is_builtin(ep), ep.name),
    )
    for ep in entry_points:
        builtin = _is_builtin(ep)
        dist = ep.dist.name if ep.dist else None
        if not builtin and allowed is not None and ep.name not in allowed and dist not in allowed:
            continue
        info = PluginInfo(ep.name, ep.dist.version if ep.dist else None, builtin, ep.value, distribution=dist)
        infos.append(info)
        if manager.has_plugin(ep.name):
            info.add_error(f"another plugin is already called {ep.name!r}")
            continue
        _register(manager, info, ep.load)
    for name, module in extra or []:
        info = PluginInfo(name, None, False, getattr(module, "__name__", repr(module)))
        infos.append(info)
        _register(manager, info, lambda module=module: module)
    _reject_unknown_hooks(manager, infos)
    by_name = {info.name: info for info in infos}
    for info in infos:
        plugin = manager.get_plugin(info.name)
        if plugin is not None:
            info.hooks = [hc.name for hc in manager.get_hookcallers(plugin) or []]
    registries = new_registries()
    for kind in KINDS:
        _collect(manager, kind, registries[kind], by_name)
        registries[kind].failed_plugins = {info.name: info.error for info in infos if info.error and any(
            part in info.error for part in ("failed to load", "not loaded", f"register_{kind} failed"))}
    return Plugins(manager, registries, infos, _unknown_allowed(allowed, entry_points),
                   _collect_recipes(manager, by_name))


def _unknown_allowed(allowed: set[str] | None, entry_points: list[md.EntryPoint]) -> list[str]:
    """Warnings for ``I2I_LOAD_PLUGINS`` names that are no installed plugin."""
    if not allowed:
        return []
    known = {ep.name for ep in entry_points} | {ep.dist.name for ep in entry_points if ep.dist}
    third_party = sorted({ep.name for ep in entry_points if not _is_builtin(ep)})
    return [f"{ENV_LOAD_PLUGINS}: no installed plugin is called {name!r}{did_you_mean(name, known)}; "
            f"installed third-party plugins: {one_of(third_party)}"
            for name in sorted(allowed - known)]


@functools.cache
def get_plugins() -> Plugins:
    """The plugins of this process, loaded once."""
    return load_plugins()


def _is_builtin(ep: md.EntryPoint) -> bool:
    return ep.dist is not None and normalized_name(ep.dist.name) == BUILTIN_DISTRIBUTION


def normalized_name(distribution: str) -> str:
    """A distribution name as PEP 503 compares them: ``I2I_Toolkit`` -> ``i2i-toolkit``."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _reject_unknown_hooks(manager: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    """``check_pending()``: a hook with no spec (a misspelt name) disables its plugin."""
    by_name = {info.name: info for info in infos}
    while True:
        try:
            manager.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = manager.get_name(exc.plugin) or repr(exc.plugin)
            by_name[name].add_error(f"not loaded: {exc}")
            manager.unregister(exc.plugin)


def _collect(manager: pluggy.PluginManager, kind: str, registry: Registry, infos: dict[str, PluginInfo]) -> None:
    """Call each plugin's ``register_<kind>`` hook separately, so that each component is
    attributed to its plugin and one plugin's failure leaves the others registered."""
    caller = getattr(manager.hook, f"register_{kind}")
    for impl in caller.get_hookimpls():
        info = infos[impl.plugin_name]
        names = info.components.setdefault(kind, [])
        register = _registrar(registry, info, names)
        try:
            impl.function(register=register)
        except BaseException as exc:
            if not _caught(exc):
                raise
            info.add_error(f"register_{kind} failed: {_short_error(exc)}")


def _collect_recipes(manager: pluggy.PluginManager, infos: dict[str, PluginInfo]) -> dict[str, Any]:
    """Call each plugin's ``register_recipes``; a bad or duplicate recipe is that plugin's error."""
    table: dict[str, Any] = {}
    for impl in manager.hook.register_recipes.get_hookimpls():
        info = infos[impl.plugin_name]

        def register(name: str, path: Any, info: PluginInfo = info) -> None:
            try:
                add_recipe(table, name, path, info.name)
            except ComponentError as exc:
                info.add_error(str(exc))

        try:
            impl.function(register=register)
        except BaseException as exc:
            if not _caught(exc):
                raise
            info.add_error(f"register_recipes failed: {_short_error(exc)}")
    return table


def _registrar(registry: Registry, info: PluginInfo, names: list[str]) -> Callable[..., None]:
    def register(name: str, factory: Callable[..., Any], description: str = "") -> None:
        """Register one component; a duplicate name is recorded as this plugin's error."""
        try:
            registry.add(name, factory, info.name, description)
        except ComponentError as exc:
            info.add_error(str(exc))
            return
        names.append(name)

    return register
