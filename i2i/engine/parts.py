"""What a training step works with, built once from the recipe: the networks on the device
(SyncBatchNorm, channels-last), the fine-tuning start, the loss terms, the EMA, the
optimisers, the GAN step (compiled and DDP-wrapped when asked), the image pool, the
learning-rate schedule and the metric table; and their part of a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from i2i.assembly import components as C
from i2i.assembly.init_from import InitSource, start_from
from i2i.engine.distributed import DistInfo
from i2i.engine.ema import EMA
from i2i.engine.gan_step import DiscriminatorObjective, GANStep
from i2i.engine.image_pool import ImagePool
from i2i.engine.precision import Precision, resolve_precision
from i2i.errors import UsageError
from i2i.metrics import MetricTable
from i2i.nn.protocols import fp32_output_layer, unwrap
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.runs.checkpoint import load_weights
from i2i.schedules import Schedule
from i2i.taskspec import TaskSpec


def uses_channels_last(recipe: Recipe, device: torch.device, networks: tuple[nn.Module | None, ...] = ()) -> bool:
    """``train.channels_last``: on, off, or (auto) on for CUDA devices unless one of
    ``networks`` has instance-norm layers: PyTorch's instance norm returns a contiguous (NCHW)
    tensor whatever its input, so channels-last would convert the layout back and forth at
    every norm layer."""
    mode = recipe.train.channels_last
    if mode != "auto":
        return mode == "on"
    return device.type == "cuda" and not any(isinstance(m, nn.modules.instancenorm._InstanceNorm)
                                             for net in networks if net is not None for m in net.modules())


@dataclass
class TrainingParts:
    """The networks, optimisers, schedule and step of a run (see the module doc).
    ``discriminator`` and ``opt_d`` are None in supervised mode; ``ema`` when EMA is off."""

    task: TaskSpec
    generator: nn.Module
    discriminator: nn.Module | None
    ema: EMA | None
    terms: list[C.LossTerm]
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    gan_step: GANStep
    pool: ImagePool | None
    schedule: Schedule
    precision: Precision
    table: MetricTable
    init_source: InitSource | None
    #: Whether networks and batches are channels-last (:func:`uses_channels_last`).
    channels_last: bool = False

    @classmethod
    def build(cls, recipe: Recipe, plugins: Plugins, task: TaskSpec, device: torch.device, dist: DistInfo,
              total_steps: int, resuming: bool) -> TrainingParts:
        """Every part, in the order their random initialisations are drawn (generator, then
        discriminator); ``resuming``: the weights come from a checkpoint later, so
        ``train.init_from`` is only recorded, not read."""
        train = recipe.train
        generator, built = C.build_generator(plugins, recipe, task), C.build_discriminator(plugins, recipe, task)
        channels_last = uses_channels_last(recipe, device, (generator, built))
        generator = _placed(generator, recipe, dist, device, channels_last)
        discriminator = _placed(built, recipe, dist, device, channels_last) if built is not None else None
        init_source = start_from(recipe, generator, discriminator, load=not resuming, announce=dist.is_main)
        terms = C.build_losses(plugins, recipe)
        precision = Precision(resolve_precision(train.precision, device), device)
        fp32_output_layer(generator, task, precision.name)  # before the EMA copies the generator
        ema = EMA(generator, train.ema_decay) if train.ema_decay else None
        opt_g = C.build_optimizer(plugins, recipe, "g", generator)
        opt_d = C.build_optimizer(plugins, recipe, "d", discriminator) if discriminator is not None else None
        table = MetricTable.registered(plugins["metrics"], task)
        pool = ImagePool(train.pool_size) if train.pool_size else None
        step = _gan_step(recipe, generator, discriminator, terms, opt_g, opt_d, precision, pool, task, dist, device)
        schedule = C.build_schedule(plugins, recipe.schedule, total_steps, table.higher_is_better)
        return cls(task, generator, discriminator, ema, terms, opt_g, opt_d, step, pool, schedule, precision, table,
                   init_source, channels_last)

    # -- checkpoints ------------------------------------------------------------------------

    def weights(self) -> dict[str, dict[str, torch.Tensor]]:
        """The state dicts a checkpoint stores, by role (``generator``, ``discriminator``,
        ``generator_ema``)."""
        weights = {"generator": unwrap(self.generator).state_dict()}
        if self.discriminator is not None:
            weights["discriminator"] = unwrap(self.discriminator).state_dict()
        if self.ema is not None:
            weights["generator_ema"] = self.ema.module.state_dict()
        return weights

    def fingerprint(self, step: int) -> torch.Tensor:
        """``[sum, sum of squares]`` of every trained parameter (generator, discriminator) and the
        learning-rate factor at ``step``: equal on every rank of a DDP run whose replicas agree
        (batch-norm running statistics are left out: each rank keeps its own)."""
        params = [p.detach() for net in (self.generator, self.discriminator) if net is not None
                  for p in unwrap(net).parameters()]
        return torch.stack([sum(p.double().sum() for p in params), sum((p.double() ** 2).sum() for p in params),
                            torch.tensor(float(self.schedule.factor(step)), dtype=torch.float64,
                                         device=params[0].device)])

    def load_weights(self, folder: Path) -> None:
        """The networks from checkpoint ``folder`` (the EMA restarts at the weights when the
        checkpoint has none)."""
        load_weights(unwrap(self.generator), folder / "generator.safetensors")
        if self.discriminator is not None:
            load_weights(unwrap(self.discriminator), folder / "discriminator.safetensors")
        if self.ema is not None:
            ema_file = folder / "generator_ema.safetensors"
            if ema_file.exists():
                load_weights(self.ema.module, ema_file)
            else:
                self.ema.copy_from(self.generator)

    def state_dict(self) -> dict[str, Any]:
        """Besides the weights, what decides the next step: optimisers, schedule, grad
        scalers, image pool."""
        state: dict[str, Any] = {"opt_g": self.opt_g.state_dict(), "schedule": self.schedule.state_dict(),
                                 "scalers": self.gan_step.scaler_states()}
        if self.opt_d is not None:
            state["opt_d"] = self.opt_d.state_dict()
        if self.pool is not None:
            state["pool"] = self.pool.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        """Restore :meth:`state_dict`; optimiser moments take their parameters' memory layout
        (a checkpoint stores them contiguous; channels-last parameters need them channels-last,
        and CUDA's fused Adam refuses mismatched strides)."""
        self.opt_g.load_state_dict(state["opt_g"])
        like_parameters(self.opt_g)
        if self.opt_d is not None:
            self.opt_d.load_state_dict(state["opt_d"])
            like_parameters(self.opt_d)
        self.schedule.load_state_dict(state["schedule"])
        self.gan_step.load_scaler_states(state.get("scalers", {}))
        if self.pool is not None and "pool" in state:
            self.pool.load_state_dict(state["pool"], device)


def like_parameters(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-parameter state tensor of ``optimizer`` (Adam's moments) its parameter's
    strides, keeping its values and dtype."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            for key, value in optimizer.state.get(param, {}).items():
                if (isinstance(value, torch.Tensor) and value.shape == param.shape
                        and value.stride() != param.stride()):
                    optimizer.state[param][key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def _placed(net: nn.Module, recipe: Recipe, dist: DistInfo, device: torch.device, channels_last: bool) -> nn.Module:
    """``net`` on the device (SyncBatchNorm in distributed CUDA runs when asked, channels-last when on)."""
    if recipe.train.sync_batchnorm and dist.enabled:
        if device.type != "cuda":
            raise UsageError("train.sync_batchnorm: SyncBatchNorm needs CUDA devices; turn it off for CPU runs")
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    net = net.to(device)
    return net.to(memory_format=torch.channels_last) if channels_last else net


def _gan_step(recipe: Recipe, generator: nn.Module, discriminator: nn.Module | None, terms: list[C.LossTerm],
              opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer | None, precision: Precision,
              pool: ImagePool | None, task: TaskSpec, dist: DistInfo, device: torch.device) -> GANStep:
    """The D-then-G step over the networks, compiled and DDP-wrapped when asked."""
    train = recipe.train
    if train.compile:
        generator = torch.compile(generator)
        discriminator = torch.compile(discriminator) if discriminator is not None else None
    adversarial = next((t for t in terms if t.role == "adversarial"), None)
    objective = DiscriminatorObjective(discriminator, adversarial) if adversarial is not None else None
    if dist.enabled:
        ids = [device.index] if device.type == "cuda" else None
        generator = DistributedDataParallel(generator, device_ids=ids)
        if objective is not None:
            objective = DistributedDataParallel(objective, device_ids=ids)
    return GANStep(generator, objective, opt_g, opt_d, terms, precision, train.clip_grad_norm, pool,
                   task.pixel_weights)
