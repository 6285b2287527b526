"""A run's data: the splits, the resumable batch order over the training split and its
loader, the batch pipeline on the device, the training samples' pixel sizes and the fixed
images of the sample grids."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from i2i.assembly import datapath
from i2i.data.dataset import CheckedDataset, sample_size
from i2i.data.loader import collate_samples
from i2i.data.sampler import EpochBatchSampler
from i2i.engine.distributed import DistInfo
from i2i.errors import UsageError
from i2i.inference.pixel_size import survey
from i2i.messages import say
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.taskspec import TaskSpec

#: Images in each sample grid.
SAMPLE_IMAGES = 4


class TrainingData:
    """The data a trainer reads (see the module doc). ``batches(step)`` yields decoded
    training batches from optimisation step ``step`` on, epoch after epoch, the same order an
    uninterrupted run has; ``prepare(raw, train)`` turns one into the network's ``(x, y)``."""

    def __init__(self, recipe: Recipe, plugins: Plugins, task: TaskSpec, device: torch.device, dist: DistInfo):
        train = recipe.train
        self.recipe, self.dist = recipe, dist
        self.splits: dict[str, CheckedDataset] = datapath.training_splits(plugins, recipe, task)
        self.train_set, self.val_set = self.splits["train"], self.splits.get("val")
        self.sampler = EpochBatchSampler(len(self.train_set), train.batch_size, seed=recipe.run.seed,
                                         rank=dist.rank, world_size=dist.world_size, buckets=self._size_buckets())
        self.steps_per_epoch = self.sampler.batches_per_epoch // train.accumulate
        if self.steps_per_epoch < 1:
            raise UsageError(
                f"train.batch_size: {train.batch_size} x train.accumulate {train.accumulate} x {dist.world_size} "
                f"process(es) needs more samples than the training split has ({len(self.train_set)} from "
                f"{recipe.data_root or recipe.source.name})")
        #: The training samples' pixel sizes (recorded in checkpoints), or None when unknown.
        self.geometry = survey(self.train_set)
        workers = loader_workers(recipe.data.num_workers, device)
        self.loader = DataLoader(self.train_set, batch_sampler=self.sampler, num_workers=workers,
                                 collate_fn=collate_samples, pin_memory=device.type == "cuda",
                                 persistent_workers=workers > 0,
                                 generator=torch.Generator().manual_seed(recipe.run.seed))
        #: The batch pipeline (its ``channels_last`` follows the networks': set by the trainer).
        self.pipeline = datapath.pipeline(recipe, task, device)
        #: Files replaced by the next good sample so far (``data.on_error = "skip"``).
        self.skipped_files = 0
        self._trace = trace_file(dist.rank)

    def prepare(self, raw: dict[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """A decoded batch -> the network's ``(input, target)`` on the device."""
        return self.pipeline(raw, train)

    def batches(self, step: int) -> Iterator[dict[str, Any]]:
        """Training batches from optimisation step ``step`` on, epoch after epoch."""
        per_epoch = self.sampler.batches_per_epoch
        epoch, position = divmod(step * self.recipe.train.accumulate, per_epoch)
        while True:
            self.sampler.set_position(epoch, position)
            for raw in self.loader:
                if self._trace is not None:
                    with self._trace.open("a") as f:
                        f.write("".join(f"{epoch}\t{p}\n" for p in raw.get("path", [])))
                self._count_skipped(raw.pop("skipped", None))
                yield raw
            epoch, position = epoch + 1, 0

    def fixed_samples(self) -> list[dict[str, Any]]:
        """A few fixed images for sample grids: from the validation split when there is one."""
        dataset = self.val_set if self.val_set is not None else self.train_set
        n = len(dataset)
        picks = sorted({round(i * (n - 1) / max(1, SAMPLE_IMAGES - 1)) for i in range(min(SAMPLE_IMAGES, n))})
        return [collate_samples([dataset[i]]) for i in picks]

    def _count_skipped(self, skipped: list[list[str]] | None) -> None:
        """``data.on_error = "skip"``: count and report the files replaced in this batch."""
        for problems in skipped or []:
            for problem in problems:
                self.skipped_files += 1
                if self.dist.is_main:
                    say(f"i2i: skipped a bad sample: {problem}")

    def _size_buckets(self) -> list[tuple[int, int]] | None:
        """Each training sample's decoded size, when batches hold more than one image and the
        source can tell sizes cheaply (so batches only mix images of one size)."""
        train_set, recipe = self.train_set, self.recipe
        if recipe.train.batch_size * self.dist.world_size == 1 or not hasattr(train_set, "size_of"):
            return None
        d = recipe.data
        try:
            return [sample_size(train_set, i, d.preprocess, d.load_size, d.crop_size) for i in range(len(train_set))]
        except AttributeError:  # a held-out subset of a source that cannot tell sizes from headers
            return None


#: The most worker processes ``data.num_workers = "auto"`` starts per training process.
MAX_AUTO_WORKERS = 8


def loader_workers(requested: int | str, device: torch.device) -> int:
    """``data.num_workers``: a count, or ``auto``: 0 on the CPU (the CPUs train; workers would
    compete with them), on CUDA the CPUs this process may use (``os.sched_getaffinity``) shared
    by the processes of its node (``LOCAL_WORLD_SIZE``, torchrun's), less one for the training
    loop, at most :data:`MAX_AUTO_WORKERS`."""
    if requested != "auto":
        return int(requested)
    if device.type != "cuda":
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_process = cpus // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(0, min(MAX_AUTO_WORKERS, per_process - 1))


def trace_file(rank: int) -> Path | None:
    """``I2I_TRACE_SAMPLES=DIR``: each rank appends the paths it trains on to DIR/rank<N>.txt
    (for checking data sharding and order)."""
    folder = os.environ.get("I2I_TRACE_SAMPLES")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / f"rank{rank}.txt"
