"""Model summary: each component's options, parameter count, receptive field, size divisor."""

from __future__ import annotations

from typing import Any

import torch

from i2i.assembly import components as B
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.recipe.model import thaw


def summarize(recipe: Recipe, plugins: Plugins) -> dict[str, Any]:
    """The summary as a JSON-ready dict. Networks are built on the meta device (no memory,
    no weights) when they allow it."""
    built = B.dry_build(plugins, recipe)
    task = built.task
    components: list[dict[str, Any]] = [{
        "role": "task", "name": recipe.task.name, "plugin": plugins["tasks"].get(recipe.task.name).plugin,
        "options": thaw(recipe.task.options), "in_channels": task.in_channels, "out_channels": task.out_channels,
    }]
    generator = built.generator
    components.append({
        **_describe(plugins, "generators", "generator", recipe.generator.name, recipe.generator.options, generator),
        "size_divisor": int(getattr(generator, "size_divisor", 1) or 1),
    })
    if recipe.discriminator is not None:
        disc = built.discriminator
        components.append({
            **_describe(plugins, "discriminators", "discriminator", recipe.discriminator.name,
                        recipe.discriminator.options, disc),
            "receptive_field": getattr(disc, "receptive_field", None),
            "scales": getattr(disc, "num_scales", 1),
        })
    for loss in recipe.losses:
        components.append({"role": "loss", "label": loss.label, "name": loss.name, "weight": loss.weight,
                           "plugin": plugins["losses"].get(loss.name).plugin, "options": thaw(loss.options)})
    return {"recipe": recipe.path, "components": components}


def _describe(plugins: Plugins, kind: str, role: str, name: str, options: Any, net: torch.nn.Module) -> dict[str, Any]:
    return {
        "role": role, "name": name, "plugin": plugins[kind].get(name).plugin, "options": thaw(options),
        "parameters": sum(p.numel() for p in net.parameters()),
        "trainable_parameters": sum(p.numel() for p in net.parameters() if p.requires_grad),
    }


def component_details(component: dict[str, Any]) -> tuple[str, list[str]]:
    """``(name, details)`` of one summarised component for display: a loss's label with its
    name; size divisor, receptive field, weight and channels where they apply."""
    details = []
    if "size_divisor" in component:
        details.append(f"size divisor {component['size_divisor']}")
    if component.get("receptive_field"):
        details.append(f"receptive field {component['receptive_field']}x{component['receptive_field']}")
    if "weight" in component:
        details.append(f"weight {component['weight']:g}")
    if component["role"] == "task":
        details.append(f"{component['in_channels']} -> {component['out_channels']} channels")
    name = component["name"] if component["role"] != "loss" else f"{component['label']}: {component['name']}"
    return name, details
