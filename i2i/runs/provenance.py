"""Provenance of a checkpoint's components: which plugin distribution (and version) gave
each one, recorded in every weights file, so a checkpoint whose plugin is missing says
what to install instead of "unknown generator"."""

from __future__ import annotations

import json
from typing import Any

from i2i.errors import UsageError
from i2i.plugins import Plugins
from i2i.recipe import Recipe

#: Recipe parts naming a component, with the registry kind they come from.
ROLES = {"task": "tasks", "source": "sources", "generator": "generators", "discriminator": "discriminators",
         "schedule": "schedules", "optim": "optimizers"}


def component_provenance(plugins: Plugins, recipe: Recipe) -> dict[str, dict[str, Any]]:
    """``{"generator": {"kind", "name", "plugin", "distribution", "version"}, ...}`` for every
    component of ``recipe`` (losses as ``losses.LABEL``)."""
    chosen = [(role, kind, getattr(recipe, role)) for role, kind in ROLES.items()]
    chosen += [(f"losses.{loss.label}", "losses", loss) for loss in recipe.losses]
    return {role: {"kind": kind, **plugins.provenance(kind, spec.name)}
            for role, kind, spec in chosen if spec is not None}


def check_installed(plugins: Plugins, metadata: dict[str, str], source: str) -> None:
    """Fail naming the distribution to install when a component recorded in a weights file's
    ``metadata`` is not registered (its plugin is not installed, or failed to load)."""
    try:
        recorded = json.loads(metadata.get("components", "{}"))
    except ValueError:
        return
    for role, entry in recorded.items():
        kind, name = entry.get("kind"), entry.get("name")
        if kind not in plugins.registries or name in plugins[kind]:
            continue
        dist, version, plugin = entry.get("distribution"), entry.get("version"), entry.get("plugin")
        info = plugins.info(plugin) if plugin else None
        state = f"failed to load ({info.error})" if info is not None and info.error else "is not installed"
        requirement = f"{dist}>={version}" if dist and version else dist or plugin
        raise UsageError(f"{source}: its {role} {name!r} comes from plugin {plugin!r} (distribution {dist} "
                         f"{version}), which {state}; install it: pip install '{requirement}'")
