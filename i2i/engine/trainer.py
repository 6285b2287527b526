"""The trainer: builds a recipe's components and runs the training loop.

Per step: ``train.accumulate`` decoded batches -> the batch pipeline on the device
(geometry, ``task.to_data_units``, ``task.make_pair``, photometric jitter; see
:mod:`i2i.data.pipeline`) -> learning rates -> GAN step -> EMA -> logs, validation, samples,
checkpoint, events. Everything that decides the next step (weights, optimizers, schedule,
scalers, image pool, RNG states of every rank, data position) is in the checkpoint, so
``--resume`` continues exactly.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from i2i.assembly import datapath
from i2i.data.dataset import CheckedDataset
from i2i.data.sampler import EpochBatchSampler
from i2i.assembly import components as B
from i2i.engine import distributed as dist
from i2i.engine import setup, step_logs, trainer_state
from i2i.runs.checkpoint import CheckpointWriter, step_dir_name
from i2i.engine.ema import EMA
from i2i.engine.events import Events
from i2i.assembly.init_from import start_from
from i2i.devices import configure_device
from i2i.engine.precision import Precision, resolve_precision
from i2i.engine.progress import ProgressDisplay
from i2i.resources import check_num_threads
from i2i.runs.rundir import MetricsLog, write_best
from i2i.engine.samples import write_samples
from i2i.engine.schedule import apply_lr
from i2i.engine.signals import StopRequest
from i2i.runs.tensor_tree import seed_everything
from i2i.engine.trainer_state import NonFiniteLossError
from i2i.engine.validation import is_new_best, validation_pass
from i2i.errors import UsageError
from i2i.inference.pixel_size import say_geometry_change, survey
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.tasks import Task

__all__ = ["NonFiniteLossError", "Trainer"]

class Trainer:
    """Trains the recipe's generator (and discriminator) into ``run_dir``.

    Plugins see it in training events; ``recipe``, ``run_dir``, ``step``, ``total_steps``,
    ``generator``, ``discriminator``, ``ema`` (or None), ``task``, ``device`` and ``rank``
    are public, as are ``last_validation`` (the latest validation metrics) and ``geometry``
    (the training samples' pixel sizes, recorded in checkpoints; None when unknown).
    Construction wires the parts (this module); the checkpoint state lives in
    :mod:`i2i.engine.trainer_state`, validation in :mod:`i2i.engine.validation`, sample grids
    in :mod:`i2i.engine.samples`, signal handling in :mod:`i2i.engine.signals`.
    """

    def __init__(self, recipe: Recipe, run_dir: Path, plugins: Plugins, device: torch.device,
                 resume_from: Path | None = None, show_progress: bool = True):
        self.recipe = recipe
        self.run_dir = Path(run_dir)
        self.plugins = plugins
        self.dist, self.device = dist.init_distributed(device)
        self.rank = self.dist.rank
        self.step = 0
        self.last_validation: dict[str, float] = {}
        self.best: dict[str, Any] | None = None
        train = recipe.train
        if train.num_threads:
            check_num_threads(train.num_threads)
            torch.set_num_threads(train.num_threads)
        configure_device(self.device)
        seed_everything(recipe.run.seed)

        self.task: Task = B.build_task(plugins, recipe)
        self.splits: dict[str, CheckedDataset] = datapath.training_splits(plugins, recipe, self.task)
        self.train_set, self.val_set = self.splits["train"], self.splits.get("val")
        self.sampler = EpochBatchSampler(len(self.train_set), train.batch_size, seed=recipe.run.seed,
                                         rank=self.dist.rank, world_size=self.dist.world_size,
                                         buckets=setup.size_buckets(self))
        self.steps_per_epoch = self.sampler.batches_per_epoch // train.accumulate
        if self.steps_per_epoch < 1:
            raise UsageError(
                f"train.batch_size: {train.batch_size} x train.accumulate {train.accumulate} x {self.dist.world_size} "
                f"process(es) needs more samples than the training split has ({len(self.train_set)} from "
                f"{recipe.data_root or recipe.source.name})")
        self.total_steps = train.steps or (train.epochs or 1) * self.steps_per_epoch
        self.geometry = survey(self.train_set)
        self.loader = setup.training_loader(self)
        self.skipped_files = 0

        self.precision = Precision(resolve_precision(train.precision, self.device), self.device)
        self.channels_last = train.channels_last == "on" or (train.channels_last == "auto" and self.device.type == "cuda")
        self.pipeline = datapath.pipeline(recipe, self.task, self.device, channels_last=self.channels_last)
        self.generator = setup.placed(self, B.build_generator(plugins, recipe, self.task))
        discriminator = B.build_discriminator(plugins, recipe, self.task)
        self.discriminator = setup.placed(self, discriminator) if discriminator is not None else None
        # fine-tuning (train.init_from, i2i.assembly.init_from): trained weights, before the EMA and optimisers
        self.init_source = start_from(recipe, self.generator, self.discriminator, load=resume_from is None,
                                      announce=self.dist.is_main)
        if resume_from is None and self.dist.is_main:  # fine-tuning at another pixel size: one line
            say_geometry_change(self.init_source, self.geometry, plugins["sources"].get(recipe.source.name))
        self.terms = B.build_losses(plugins, recipe)
        self.ema = EMA(self.generator, train.ema_decay) if train.ema_decay and self.dist.is_main else None
        self.opt_g = B.build_optimizer(plugins, recipe, "g", self.generator)
        self.opt_d = (B.build_optimizer(plugins, recipe, "d", self.discriminator)
                      if self.discriminator is not None else None)
        self.gan_step, self.pool = setup.gan_step(self)
        self.schedule = B.build_schedule(plugins, recipe.schedule, self.total_steps)
        seed_everything(recipe.run.seed + self.rank)

        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self.checkpoints = CheckpointWriter(self.run_dir / "checkpoints", train.keep_checkpoints)
        self.events = Events(plugins, enabled=self.dist.is_main)
        self.show_progress = show_progress and self.dist.is_main
        self.stop = StopRequest()
        self.sample_batches = setup.fixed_samples(self)
        self._trace = setup.trace_file(self.rank)
        if resume_from is not None:
            self.load_checkpoint(resume_from)

    # -- construction helpers ---------------------------------------------------------------


    # -- the loop ---------------------------------------------------------------------------

    def prepare(self, raw: dict[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """A decoded batch -> the network's ``(input, target)`` on the device."""
        return self.pipeline(raw, train)

    def batches(self) -> Iterator[dict[str, Any]]:
        """Training batches from the current step on, epoch after epoch."""
        per_epoch = self.sampler.batches_per_epoch
        epoch, position = divmod(self.step * self.recipe.train.accumulate, per_epoch)
        while True:
            self.sampler.set_position(epoch, position)
            for raw in self.loader:
                if self._trace is not None:
                    with self._trace.open("a") as f:
                        f.write("".join(f"{epoch}\t{p}\n" for p in raw.get("path", [])))
                self._count_skipped(raw.pop("skipped", None))
                yield raw
            epoch, position = epoch + 1, 0

    def _count_skipped(self, skipped: list[list[str]] | None) -> None:
        """``data.on_error = "skip"``: count and report the files replaced in this batch."""
        for problems in skipped or []:
            for problem in problems:
                self.skipped_files += 1
                if self.dist.is_main:
                    print(f"i2i: skipped a bad sample: {problem}", file=sys.stderr, flush=True)

    def fit(self) -> str:
        """Train to ``total_steps``; returns ``"completed"`` or ``"interrupted"``."""
        status = "failed"
        self.stop.install()
        try:
            self.events.emit("on_train_start", trainer=self)
            with ProgressDisplay(self.total_steps, self.step, self.recipe.stem, self.show_progress) as display:
                status = self._loop(display)
        finally:
            self.stop.restore()
            self.events.emit("on_train_end", trainer=self, step=self.step, status=status)
            if status != "failed":
                dist.barrier(self.dist)
        return status

    def _loop(self, display: ProgressDisplay) -> str:
        train = self.recipe.train
        self.generator.train()
        if self.discriminator is not None:
            self.discriminator.train()
        pending: list[dict[str, torch.Tensor]] = []
        last_time, last_step = time.perf_counter(), self.step
        data = self.batches()
        val_every = train.val_every or (train.checkpoint_every if self.val_set is not None else None)
        while self.step < self.total_steps:
            batches = [self.prepare(next(data), train=True) for _ in range(train.accumulate)]
            factor = self.schedule.factor(self.step)
            lr_g = apply_lr(self.opt_g, self.recipe.optim.lr_g, factor)
            lr_d = apply_lr(self.opt_d, self.recipe.optim.lr_d, factor) if self.opt_d else None
            pending.append(self.gan_step(batches))
            self.step += 1
            self._update_ema()
            end = self.step == self.total_steps
            due_log = self.step % train.log_every == 0 or end
            due_checkpoint = self.step % train.checkpoint_every == 0 or end
            due_val = self.val_set is not None and val_every is not None and (self.step % val_every == 0 or end)
            logs: dict[str, Any] = {}
            if due_log or due_checkpoint or due_val:
                step_logs.check_finite(self, pending)
            if due_log:
                now = time.perf_counter()
                logs = step_logs.summarise(self, pending, now - last_time, self.step - last_step, lr_g, lr_d)
                pending, last_time, last_step = [], now, self.step
            if due_val:
                logs.update(validation_pass(self))
            if due_log or due_val:
                logs.setdefault("step", self.step)
                if self.dist.is_main:
                    self.metrics.write(logs)
            if self.dist.is_main and (self.step % train.sample_every == 0 or end):
                write_samples(self)
            new_best = due_val and self.dist.is_main and is_new_best(self.best, train.best_metric, logs)
            if new_best:  # before saving: the checkpoint's trainer state must hold the best it makes
                self.best = {"step": self.step, "metric": train.best_metric,
                             "value": self.last_validation[train.best_metric], "folder": step_dir_name(self.step)}
            saved = self.save_checkpoint() if due_checkpoint or new_best else None
            if new_best and saved is not None:
                write_best(self.run_dir, self.best)
            self.events.emit("on_step_end", trainer=self, step=self.step, logs=logs)
            display.update(self.step, logs)
            if self._should_stop(due_log):
                if saved is None:
                    step_logs.check_finite(self, pending)
                    self.save_checkpoint()
                return "interrupted"
        return "completed"

    def _update_ema(self) -> None:
        if self.ema is None:
            return
        start = self.recipe.train.ema_start
        if self.step <= start:
            self.ema.copy_from(self.generator)
        else:
            self.ema.update(self.generator)

    def _should_stop(self, due_log: bool) -> bool:
        if not self.dist.enabled:
            return self.stop.requested is not None
        return due_log and dist.any_rank(self.stop.requested is not None, self.dist, self.device)

    def rng_devices(self) -> list[int]:
        """CUDA devices whose RNG state evaluation passes fork (so training draws stay exact)."""
        return [self.device.index or 0] if self.device.type == "cuda" else []

    # -- checkpoints (see i2i.engine.trainer_state) ---------------------------------------------

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step_XXXXXXXX/`` (rank 0) and return it; other ranks return None."""
        return trainer_state.save_checkpoint(self)

    def load_checkpoint(self, folder: Path) -> None:
        """Restore weights, optimizers, schedule, scalers, pool, RNG states and the step."""
        trainer_state.load_checkpoint(self, folder)
