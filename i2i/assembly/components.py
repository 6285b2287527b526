"""Building the recipe's components, with errors that name the recipe key and plugin."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from i2i.data.source import Source
from i2i.errors import I2IError, UsageError
from i2i.loggers import Logger
from i2i.metrics import MetricTable
from i2i.nn.protocols import attribute_problems, expect_output
from i2i.nn.symmetry_average import add_symmetry_average, symmetries
from i2i.plugins import Plugins
from i2i.recipe import ComponentSpec, Recipe
from i2i.recipe.model import thaw
from i2i.schedules import Schedule, as_schedule
from i2i.taskspec import TaskSpec, missing_members


@dataclass
class LossTerm:
    """A built loss with its recipe label and weight."""

    label: str
    weight: float
    loss: Any

    @property
    def role(self) -> str:
        """``adversarial``, ``reconstruction`` (the default) or ``feature_matching``."""
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


def build_task(plugins: Plugins, recipe: Recipe) -> TaskSpec:
    """The recipe's ``[task]``; an object that lacks part of :class:`~i2i.taskspec.TaskSpec`
    fails naming the plugin and what is missing."""
    task = build(plugins, "tasks", recipe.task, "task")
    missing = missing_members(task, TaskSpec)
    if missing:
        plugin = plugins["tasks"].get(recipe.task.name).plugin
        raise UsageError(f"task {recipe.task.name!r} (plugin {plugin!r}): its factory returned a "
                         f"{type(task).__name__} without {', '.join(missing)} (see i2i.taskspec.TaskSpec; "
                         "subclassing i2i.plugin_api.Task gives every one a default)")
    return task


def build_source(plugins: Plugins, recipe: Recipe) -> Source:
    """The recipe's ``[source]``; a source that reads files and has no ``root`` fails saying what to set."""
    root = plugins["sources"].get(recipe.source.name).parameters().get("root")
    if root is not None and root.default is inspect.Parameter.empty and recipe.data_root is None:
        raise UsageError(f"data.root: not set; source {recipe.source.name!r} reads files: pass --set data.root=PATH "
                         "(its folder or file), or set root in the recipe's [source]")
    return build(plugins, "sources", recipe.source, "source", seed=recipe.run.seed)


def build_schedule(plugins: Plugins, spec: ComponentSpec, total_steps: int,
                   higher_is_better: Callable[[str], bool] | None = None) -> Schedule:
    """The learning-rate schedule ``spec`` (the recipe's ``[schedule]``) over ``total_steps``;
    a schedule that follows a metric gets ``higher_is_better`` (the run's metric table's)."""
    provided: dict[str, Any] = {"total_steps": total_steps}
    if higher_is_better is not None:
        provided["higher_is_better"] = higher_is_better
    schedule = build(plugins, "schedules", spec, "schedule", **provided)
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


def build_generator(plugins: Plugins, recipe: Recipe, task: TaskSpec) -> nn.Module:
    """The recipe's ``[generator]`` for ``task``'s channels; its first output is checked
    (:func:`i2i.nn.protocols.check_first_output`). With ``augment.test_time`` it averages over
    the training's flips and turns in eval mode (:mod:`i2i.nn.symmetry_average`)."""
    net = _check_module(build(plugins, "generators", recipe.generator, "generator",
                              in_channels=task.in_channels, out_channels=task.out_channels),
                        "generator", recipe.generator.name, plugins)
    plugin = plugins["generators"].get(recipe.generator.name).plugin
    expect_output(net, f"generator {recipe.generator.name!r} (plugin {plugin!r})", task.out_channels)
    augment = recipe.augment
    if augment.test_time:
        add_symmetry_average(net, symmetries(augment.flip, augment.vflip, augment.rot90))
    return net


def build_discriminator(plugins: Plugins, recipe: Recipe, task: TaskSpec) -> nn.Module | None:
    if recipe.discriminator is None:
        return None
    net = build(plugins, "discriminators", recipe.discriminator, "discriminator",
                in_channels=task.in_channels + task.out_channels)
    return _check_module(net, "discriminator", recipe.discriminator.name, plugins)


def build_losses(plugins: Plugins, recipe: Recipe) -> list[LossTerm]:
    """The loss terms with a non-zero weight (weight 0 switches a term off). A loss whose
    ``role`` is none of :data:`LOSS_ROLES` (it would go unused) fails naming its plugin; each
    loss's first value of each kind is checked to be a one-element tensor (:class:`CheckedLoss`)."""
    terms = []
    for spec in recipe.losses:
        if spec.weight == 0:
            continue
        loss = build(plugins, "losses", spec, f"losses.{spec.label}")
        plugin = plugins["losses"].get(spec.name).plugin
        who = f"losses.{spec.label}: loss {spec.name!r} (plugin {plugin!r})"
        role = getattr(loss, "role", "reconstruction")
        if role not in LOSS_ROLES:
            raise UsageError(f"{who}: role {role!r} is none of {', '.join(map(repr, LOSS_ROLES))}, so i2i would never "
                             "call it; subclass i2i.plugin_api.ReconstructionLoss (or AdversarialLoss, "
                             "FeatureMatchingLoss)")
        terms.append(LossTerm(spec.label, spec.weight, CheckedLoss(loss, who)))
    adversarial = [t.label for t in terms if t.role == "adversarial"]
    if len(adversarial) > 1:
        raise UsageError(f"losses: {len(adversarial)} adversarial losses ({', '.join(adversarial)}); a run trains "
                         "against one discriminator objective: keep one, or set the others' weight = 0")
    return terms


#: The roles the engine calls a loss in (``i2i.losses``).
LOSS_ROLES = ("adversarial", "reconstruction", "feature_matching")


class CheckedLoss:
    """A built loss whose first value from each method the engine calls (``__call__``,
    ``discriminator_loss``, ``generator_loss``) must be a one-element tensor: a float, a
    tuple or None fails naming the loss and its plugin (instead of a traceback deep in the
    backward pass). Every other attribute is the loss's own."""

    def __init__(self, loss: Any, who: str):
        self.loss, self.who, self._checked = loss, who, set()

    def __getattr__(self, name: str) -> Any:
        if name == "loss":
            raise AttributeError(name)
        return getattr(self.loss, name)

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self._first("__call__", self.loss(*args, **kwargs))

    def discriminator_loss(self, *args: Any) -> torch.Tensor:
        return self._first("discriminator_loss", self.loss.discriminator_loss(*args))

    def generator_loss(self, *args: Any) -> torch.Tensor:
        return self._first("generator_loss", self.loss.generator_loss(*args))

    def _first(self, method: str, value: Any) -> torch.Tensor:
        if method not in self._checked:
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                got = f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else \
                    f"{type(value).__name__} {value!r}"[:80]
                raise I2IError(f"{self.who}: {method} returned {got}, not a one-element tensor (a loss must be a "
                               "torch scalar that gradients flow back through)")
            self._checked.add(method)
        return value


def build_loggers(plugins: Plugins, recipe: Recipe, run_dir: Path) -> list[tuple[str, Logger]]:
    """The loggers a recipe switches on (``[plugins.NAME] enabled = true``), each built with
    its table's other options, as ``(name, logger)``."""
    built = []
    for component in plugins["loggers"]:
        options = dict(recipe.plugin_options(component.name))
        if not options.pop("enabled", False):
            continue
        logger = build(plugins, "loggers", ComponentSpec(component.name, options), f"plugins.{component.name}",
                       run_dir=Path(run_dir))
        if not isinstance(logger, Logger):
            raise UsageError(f"plugins.{component.name}: logger {component.name!r} (plugin {component.plugin!r}) "
                             f"returned {type(logger).__name__}, not an i2i.loggers.Logger")
        built.append((component.name, logger))
    return built


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

    task: TaskSpec
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
    table = MetricTable.registered(plugins["metrics"], task)
    build_schedule(plugins, recipe.schedule, recipe.train.steps or 1, table.higher_is_better)
    for network in ("g", "d") if discriminator is not None else ("g",):
        build_optimizer(plugins, recipe, network, nn.Linear(1, 1))
    return DryBuild(task, generator, discriminator, losses)


def _check_module(net: Any, what: str, name: str, plugins: Plugins) -> nn.Module:
    """``net`` when it is an ``nn.Module`` whose engine-read attributes are valid
    (:mod:`i2i.nn.protocols`); else an error naming the component and its plugin."""
    plugin = plugins[f"{what}s"].get(name).plugin
    if not isinstance(net, nn.Module):
        raise UsageError(f"{what} {name!r} (plugin {plugin!r}): its factory returned {type(net).__name__}, not a "
                         "torch.nn.Module")
    problems = attribute_problems(net, what)
    if problems:
        raise UsageError(f"{what} {name!r} (plugin {plugin!r}): {'; '.join(problems)} (see i2i.nn.protocols)")
    return net
