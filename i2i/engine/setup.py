"""Wiring a trainer's parts: size buckets for the sampler, the training loader, networks on
the device (SyncBatchNorm, channels-last), the GAN step (compile, DDP, image pool), the fixed
sample images and the sample trace. Each takes the trainer whose other parts it needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from i2i.data.dataset import sample_size
from i2i.data.loader import collate_samples
from i2i.engine.gan_step import DiscriminatorObjective, GANStep
from i2i.engine.image_pool import ImagePool
from i2i.errors import UsageError

#: Images in each sample grid.
SAMPLE_IMAGES = 4


def size_buckets(trainer) -> list[tuple[int, int]] | None:
    """Each training sample's decoded size, when batches hold more than one image and the
    source can tell sizes cheaply (so batches only mix images of one size)."""
    train_set = trainer.train_set
    if trainer.recipe.train.batch_size * trainer.dist.world_size == 1 or not hasattr(train_set, "size_of"):
        return None
    d = trainer.recipe.data
    return [sample_size(train_set, i, d.preprocess, d.load_size, d.crop_size) for i in range(len(train_set))]


def training_loader(trainer) -> DataLoader:
    """The training split's loader: the resumable epoch sampler, ``data.num_workers`` workers."""
    workers = trainer.recipe.data.num_workers
    return DataLoader(trainer.train_set, batch_sampler=trainer.sampler, num_workers=workers,
                      collate_fn=collate_samples, pin_memory=trainer.device.type == "cuda",
                      persistent_workers=workers > 0, generator=torch.Generator().manual_seed(trainer.recipe.run.seed))


def placed(trainer, net: torch.nn.Module) -> torch.nn.Module:
    """``net`` on the trainer's device (SyncBatchNorm in distributed CUDA runs when asked,
    channels-last when on)."""
    if trainer.recipe.train.sync_batchnorm and trainer.dist.enabled:
        if trainer.device.type != "cuda":
            raise UsageError("train.sync_batchnorm: SyncBatchNorm needs CUDA devices; turn it off for CPU runs")
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    net = net.to(trainer.device)
    if trainer.channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def gan_step(trainer) -> tuple[GANStep, ImagePool | None]:
    """The D-then-G step over the trainer's networks (compiled and DDP-wrapped when asked)
    and the image pool it feeds D from (``train.pool_size``; None when off)."""
    train = trainer.recipe.train
    generator, discriminator = trainer.generator, trainer.discriminator
    if train.compile:
        generator = torch.compile(generator)
        discriminator = torch.compile(discriminator) if discriminator is not None else None
    adversarial = next((t for t in trainer.terms if t.role == "adversarial"), None)
    objective = DiscriminatorObjective(discriminator, adversarial) if adversarial is not None else None
    if trainer.dist.enabled:
        ids = [trainer.device.index] if trainer.device.type == "cuda" else None
        generator = DistributedDataParallel(generator, device_ids=ids)
        if objective is not None:
            objective = DistributedDataParallel(objective, device_ids=ids)
    pool = ImagePool(train.pool_size) if train.pool_size else None
    return GANStep(generator, objective, trainer.opt_g, trainer.opt_d, trainer.terms, trainer.precision,
                   train.clip_grad_norm, pool, trainer.task.pixel_weights), pool


def fixed_samples(trainer) -> list[dict[str, Any]]:
    """A few fixed images for sample grids: from the validation split when there is one."""
    dataset = trainer.val_set if trainer.val_set is not None else trainer.train_set
    n = len(dataset)
    picks = sorted({round(i * (n - 1) / max(1, SAMPLE_IMAGES - 1)) for i in range(min(SAMPLE_IMAGES, n))})
    return [collate_samples([dataset[i]]) for i in picks]


def trace_file(rank: int) -> Path | None:
    """``I2I_TRACE_SAMPLES=DIR``: each rank appends the paths it trains on to DIR/rank<N>.txt
    (for checking data sharding and order)."""
    folder = os.environ.get("I2I_TRACE_SAMPLES")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / f"rank{rank}.txt"
