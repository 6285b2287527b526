"""Building the recipe's components, with errors that name the recipe key and plugin."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from i2i.data.source import Source
from i2i.engine.schedule import Schedule, as_schedule
from i2i.errors import I2IError, UsageError
from i2i.plugins import Plugins
from i2i.recipe import ComponentSpec, Recipe
from i2i.recipe.model import thaw
from i2i.tasks import Task


@dataclass
class LossTerm:
    """A built loss with its recipe label and weight."""

    label: str
    weight: float
    loss: Any

    @property
    def role(self) -> str:
        return getattr(self.loss, "role", "reconstruction")


def build(plugins: Plugins, kind: str, spec: ComponentSpec, where: str, **provided: Any) -> Any:
    """Build component ``spec`` of ``kind``; a failing factory becomes a usage error naming
    the recipe section, the component and its plugin."""
    registry = plugins[kind]
    try:
        return registry.build(spec.name, spec.options, **provided)
    except I2IError:
        raise
    except Exception as exc:
        plugin = registry.get(spec.name).plugin
        reason = str(exc) if isinstance(exc, ValueError) and str(exc) else f"{type(exc).__name__}: {exc}"
        raise UsageError(f"{where}: {registry.singular} {spec.name!r} (plugin {plugin!r}) could not be built "
                         f"with options {thaw(spec.options)}: {reason}") from exc


def build_task(plugins: Plugins, recipe: Recipe) -> Task:
    return build(plugins, "tasks", recipe.task, "task")


def build_source(plugins: Plugins, recipe: Recipe) -> Source:
    """The recipe's ``[source]``; a source that reads files and has no ``root`` fails saying what to set."""
    root = plugins["sources"].get(recipe.source.name).parameters().get("root")
    if root is not None and root.default is inspect.Parameter.empty and recipe.data_root is None:
        raise UsageError(f"data.root: not set; source {recipe.source.name!r} reads files: pass --set data.root=PATH "
                         "(its folder or file), or set root in the recipe's [source]")
    return build(plugins, "sources", recipe.source, "source", seed=recipe.run.seed)


def build_schedule(plugins: Plugins, spec: ComponentSpec, total_steps: int) -> Schedule:
    """The learning-rate schedule ``spec`` (the recipe's ``[schedule]``) over ``total_steps``."""
    schedule = build(plugins, "schedules", spec, "schedule", total_steps=total_steps)
    return as_schedule(schedule, spec.name, plugins["schedules"].get(spec.name).plugin)


def build_optimizer(plugins: Plugins, recipe: Recipe, network: str, net: nn.Module) -> torch.optim.Optimizer:
    """The optimiser of ``net``, the generator (``network="g"``) or the discriminator (``"d"``),
    with that network's options of the recipe's ``[optim]`` (``lr_g`` as ``lr``...)."""
    spec = ComponentSpec(recipe.optim.name, recipe.optim.for_network(network))
    optimizer = build(plugins, "optimizers", spec, "optim", params=net.parameters())
    if not isinstance(optimizer, torch.optim.Optimizer):
        plugin = plugins["optimizers"].get(spec.name).plugin
        raise UsageError(f"optim.name: optimizer {spec.name!r} (plugin {plugin!r}) returned "
                         f"{type(optimizer).__name__}, not a torch.optim.Optimizer")
    return optimizer


def build_generator(plugins: Plugins, recipe: Recipe, task: Task) -> nn.Module:
    net = build(plugins, "generators", recipe.generator, "generator",
                in_channels=task.in_channels, out_channels=task.out_channels)
    return _check_module(net, "generator", recipe.generator.name)


def build_discriminator(plugins: Plugins, recipe: Recipe, task: Task) -> nn.Module | None:
    if recipe.discriminator is None:
        return None
    net = build(plugins, "discriminators", recipe.discriminator, "discriminator",
                in_channels=task.in_channels + task.out_channels)
    return _check_module(net, "discriminator", recipe.discriminator.name)


def build_losses(plugins: Plugins, recipe: Recipe) -> list[LossTerm]:
    """The loss terms with a non-zero weight (weight 0 switches a term off)."""
    return [LossTerm(spec.label, spec.weight, build(plugins, "losses", spec, f"losses.{spec.label}"))
            for spec in recipe.losses if spec.weight != 0]


def on_meta(factory: Callable[[], Any]) -> Any:
    """``factory()`` with tensors created on the meta device (shapes only: no memory, no
    weights), or normally when the factory needs real data (e.g. it loads a weights file)."""
    try:
        with torch.device("meta"):
            return factory()
    except NotImplementedError:
        return factory()


@dataclass
class DryBuild:
    """The recipe's task, networks (on the meta device) and loss terms, built to find
    factory errors before a run (``i2i recipe check``, ``i2i summary``)."""

    task: Task
    generator: nn.Module
    discriminator: nn.Module | None
    losses: list[LossTerm]


def dry_build(plugins: Plugins, recipe: Recipe) -> DryBuild:
    """Build every model component of ``recipe`` cheaply (generator and discriminator on the
    meta device, the optimisers on a one-layer stand-in, the schedule); a factory that rejects
    its options fails as it would at the start of a run."""
    task = build_task(plugins, recipe)
    generator = on_meta(lambda: build_generator(plugins, recipe, task))
    discriminator = on_meta(lambda: build_discriminator(plugins, recipe, task))
    losses = build_losses(plugins, recipe)  # as a run builds them: a loss may load its own weights file
    build_schedule(plugins, recipe.schedule, recipe.train.steps or 1)
    for network in ("g", "d") if discriminator is not None else ("g",):
        build_optimizer(plugins, recipe, network, nn.Linear(1, 1))
    return DryBuild(task, generator, discriminator, losses)


def _check_module(net: Any, what: str, name: str) -> nn.Module:
    if not isinstance(net, nn.Module):
        raise UsageError(f"{what} {name!r}: its factory returned {type(net).__name__}, not a torch.nn.Module")
    return net


def count_parameters(net: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in net.parameters())



