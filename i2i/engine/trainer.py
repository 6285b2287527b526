"""The trainer: a recipe's parts trained into a run directory.

Per step: ``train.accumulate`` decoded batches -> the batch pipeline on the device
(geometry, ``task.to_data_units``, ``task.make_pair``, photometric jitter; see
:mod:`i2i.data.pipeline`) -> learning rates -> GAN step -> EMA -> logs, validation, samples,
checkpoint, events. The parts live in :class:`~i2i.engine.parts.TrainingParts`, the data in
:class:`~i2i.engine.training_data.TrainingData`, the run's own state in
:class:`~i2i.engine.run_state.RunState`; validation results are applied in one place
(:meth:`Trainer.apply_validation`) on every rank alike. Everything that decides the next step
(weights, optimizers, schedule, scalers, image pool, RNG states of every rank, data
position) is in the checkpoint, so ``--resume`` continues exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from i2i.assembly import components as C
from i2i.devices import configure_device
from i2i.engine import distributed as dist
from i2i.engine.checkpointer import Checkpointer, NonFiniteLossError, WeightsHeader
from i2i.engine.determinism import deterministic_algorithms
from i2i.engine.events import Events
from i2i.engine.gan_health import GanHealth
from i2i.engine.loss_log import LossLog, log_row
from i2i.engine.lr import apply_lr, resume_note
from i2i.engine.parts import TrainingParts
from i2i.engine.progress import ProgressDisplay
from i2i.engine.rng import restore_rngs, seed_everything
from i2i.engine.run_state import RunState
from i2i.engine.samples import write_samples
from i2i.engine.signals import StopRequest
from i2i.engine.training_data import TrainingData
from i2i.engine.validation import Validator
from i2i.inference.pixel_size import say_geometry_change
from i2i.messages import note, warn
from i2i.nn.protocols import unwrap
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.resources import check_num_threads
from i2i.runs.rundir import MetricsLog, write_best
from i2i.taskspec import TaskSpec

__all__ = ["NonFiniteLossError", "Trainer"]


class Trainer:
    """Trains the recipe's generator (and discriminator) into ``run_dir``.

    Training events see it as an :class:`i2i.hookspecs.TrainerView`: ``recipe``, ``run_dir``,
    ``step``, ``total_steps``, ``generator``, ``discriminator``, ``ema``, ``task``, ``device``,
    ``rank``, ``last_validation`` and ``geometry``. ``parts``, ``data`` and ``state`` hold the
    rest.
    """

    def __init__(self, recipe: Recipe, run_dir: Path, plugins: Plugins, device: torch.device,
                 resume_from: Path | None = None, show_progress: bool = True):
        self.recipe, self.run_dir, self.plugins = recipe, Path(run_dir), plugins
        self.dist, self.device = dist.init_distributed(device)
        self.rank = self.dist.rank
        train = recipe.train
        if train.num_threads:
            check_num_threads(train.num_threads)
            torch.set_num_threads(train.num_threads)
        configure_device(self.device)
        seed_everything(recipe.run.seed)
        task = C.build_task(plugins, recipe)
        self.data = TrainingData(recipe, plugins, task, self.device, self.dist)
        self.total_steps = train.steps or (train.epochs or 1) * self.data.steps_per_epoch
        self.parts = TrainingParts.build(recipe, plugins, task, self.device, self.dist, self.total_steps,
                                         resuming=resume_from is not None)
        self.data.pipeline.channels_last = self.parts.channels_last  # batches laid out like the networks
        if resume_from is None and self.dist.is_main:  # fine-tuning at another pixel size: one line
            say_geometry_change(self.parts.init_source, self.data.geometry, plugins["sources"].get(recipe.source.name))
        seed_everything(recipe.run.seed + self.rank)
        self.state = RunState()
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        sizes = sorted(set((self.data.geometry or {}).get("size_px", [])))
        header = WeightsHeader(recipe, plugins, task.in_channels, task.out_channels, self.parts.init_source,
                               self.data.geometry, task.acquisition(sizes))
        self.checkpointer = Checkpointer(self.run_dir, train.keep_checkpoints, self.dist, self.device, header)
        loggers = C.build_loggers(plugins, recipe, self.run_dir) if self.dist.is_main else []
        self.events = Events(plugins, enabled=self.dist.is_main, loggers=loggers)
        self.show_progress = show_progress and self.dist.is_main
        self.stop = StopRequest()
        self.sample_batches = self.data.fixed_samples()
        self.validator = (Validator(self.data.val_set, self.data.prepare, task, self.parts.table, train.batch_size,
                                    train.val_images, self.dist, self.device, self.rng_devices)
                          if self.data.val_set is not None else None)
        self.health = GanHealth(self.total_steps) if self.parts.discriminator is not None else None
        if resume_from is not None:
            self.resume(resume_from)

    # -- what training events see (i2i.hookspecs.TrainerView) ---------------------------------

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def last_validation(self) -> dict[str, float]:
        return self.state.last_validation

    @property
    def task(self) -> TaskSpec:
        return self.parts.task

    @property
    def generator(self) -> torch.nn.Module:
        return self.parts.generator

    @property
    def discriminator(self) -> torch.nn.Module | None:
        return self.parts.discriminator

    @property
    def ema(self):
        return self.parts.ema

    @property
    def geometry(self) -> dict[str, Any] | None:
        return self.data.geometry

    def rng_devices(self) -> list[int]:
        """CUDA devices whose RNG state evaluation passes fork (so training draws stay exact)."""
        return [self.device.index or 0] if self.device.type == "cuda" else []

    # -- the loop ---------------------------------------------------------------------------

    def fit(self) -> str:
        """Train to ``total_steps``; returns ``"completed"`` or ``"interrupted"``."""
        status = "failed"
        self.stop.install()
        try:
            self.events.emit("on_train_start", trainer=self)
            with ProgressDisplay(self.total_steps, self.step, self.recipe.stem, self.show_progress) as display, \
                    deterministic_algorithms(self.recipe.run.deterministic, announce=self.dist.is_main):
                status = self._loop(display)
        finally:
            self.stop.restore()
            self.events.emit("on_train_end", trainer=self, step=self.step, status=status)
            if status != "failed":
                dist.barrier(self.dist)
        return status

    def _loop(self, display: ProgressDisplay) -> str:
        train = self.recipe.train
        self.parts.generator.train()
        if self.parts.discriminator is not None:
            self.parts.discriminator.train()
        losses = LossLog()
        last_time, last_step = time.perf_counter(), self.step
        data = self.data.batches(self.step)
        val_every = train.val_every or (train.checkpoint_every if self.validator is not None else None)
        while self.step < self.total_steps:
            lr_g, lr_d = self._optimisation_step(data, losses)
            end = self.step == self.total_steps
            due_log = self.step % train.log_every == 0 or end
            due_checkpoint = self.step % train.checkpoint_every == 0 or end
            due_val = self.validator is not None and val_every is not None and (self.step % val_every == 0 or end)
            logs: dict[str, Any] = {}
            if due_log or due_checkpoint or due_val:
                losses.check_finite(self.step, self.dist, self.device, self.run_dir)
            if due_log:
                now = time.perf_counter()
                images = (self.step - last_step) * train.batch_size * train.accumulate * self.dist.world_size
                logs = log_row(self.step, self.data.steps_per_epoch, losses.means(), lr_g, lr_d,
                               images / max(now - last_time, 1e-9), self.data.skipped_files)
                last_time, last_step = now, self.step
                self._check_gan_health(logs)
            new_best = False
            if due_val:
                metrics, new_best = self.apply_validation(self.validator.run(self._scored(), self._baseline_due()))
                logs.update(metrics)
            if (due_log or due_val) and self.dist.is_main:
                logs.setdefault("step", self.step)
                self.metrics.write(logs)
            if self.dist.is_main and (self.step % train.sample_every == 0 or end):
                self._write_samples()
            # every rank takes the same decisions here (validation results are shared), so
            # all of them enter the checkpoint's collectives together
            saved = due_checkpoint or new_best
            if saved:
                self.save_checkpoint()
                if new_best and self.dist.is_main:
                    write_best(self.run_dir, self.state.best)
            self.events.emit("on_step_end", trainer=self, step=self.step, logs=logs)
            display.update(self.step, logs)
            if self._should_stop(due_log):
                if not saved:
                    losses.check_finite(self.step, self.dist, self.device, self.run_dir)
                    self.save_checkpoint()
                return "interrupted"
        return "completed"

    def _optimisation_step(self, data: Iterator[dict[str, Any]], losses: LossLog) -> tuple[float, float | None]:
        """Batches -> learning rates -> D and G steps -> EMA; returns the learning rates used."""
        parts = self.parts
        batches = [self.data.prepare(next(data), train=True) for _ in range(self.recipe.train.accumulate)]
        factor = parts.schedule.factor(self.step)
        lr_g = apply_lr(parts.opt_g, self.recipe.optim.lr_g, factor)
        lr_d = apply_lr(parts.opt_d, self.recipe.optim.lr_d, factor) if parts.opt_d else None
        losses.add(parts.gan_step(batches))
        self.state.step += 1
        self._update_ema()
        return lr_g, lr_d

    # -- validation: applied in one place ------------------------------------------------------

    def _scored(self) -> dict[str, torch.nn.Module]:
        generators = {"model": unwrap(self.parts.generator)}
        if self.parts.ema is not None:
            generators["ema"] = self.parts.ema.module
        return generators

    def _baseline_due(self) -> bool:
        """The identity baseline is measured once per run and carried on."""
        return "val_input_psnr" not in self.state.last_validation

    def apply_validation(self, metrics: dict[str, float]) -> tuple[dict[str, float], bool]:
        """A validation pass's means -> the run's state (latest validation, best so far), the
        schedule and the plugins. Returns the metrics to log and whether this step is the new
        best (``train.best_metric``), which the caller saves. Every rank calls it with the same
        numbers and takes the same decisions."""
        baseline = {k: v for k, v in self.state.last_validation.items() if k.startswith("val_input_")}
        metrics = {**baseline, **metrics}
        self.state.last_validation = metrics
        best_metric = self.recipe.train.best_metric
        new_best = self.state.improves_best(best_metric, metrics, self.parts.table)
        if new_best:  # before saving: the checkpoint's state must hold the best it makes
            self.state.record_best(best_metric)
        self.parts.schedule.observe(metrics)
        self.events.emit("on_validation_end", trainer=self, step=self.step, metrics=metrics)
        return metrics, new_best

    # -- the rest of a step --------------------------------------------------------------------

    def _update_ema(self) -> None:
        ema = self.parts.ema
        if ema is None:
            return
        if self.step <= self.recipe.train.ema_start:
            ema.copy_from(self.parts.generator)
        else:
            ema.update(self.parts.generator)

    def _check_gan_health(self, row: dict[str, Any]) -> None:
        message = self.health.observe(row) if self.health is not None else None
        if message and self.dist.is_main:
            warn(message)

    def _write_samples(self) -> Path:
        net = self.parts.ema.module if self.parts.ema is not None else unwrap(self.parts.generator)
        path = self.run_dir / "samples" / f"step_{self.step:08d}.png"
        return write_samples(net, self.sample_batches, self.data.prepare, self.parts.task, path, self.rng_devices)

    def _should_stop(self, due_log: bool) -> bool:
        if not self.dist.enabled:
            return self.stop.requested is not None
        return due_log and dist.any_rank(self.stop.requested is not None, self.dist, self.device)

    # -- checkpoints ---------------------------------------------------------------------------

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step_XXXXXXXX/``: every rank calls it at the same steps; rank 0
        writes and returns the folder, the others None."""
        state = {**self.state.state_dict(), **self.parts.state_dict(), "total_steps": self.total_steps,
                 "recipe_digest": self.recipe.digest()}
        path = self.checkpointer.save(self.step, self.parts.weights(), state,
                                      protect=self.state.best["folder"] if self.state.best else None,
                                      fingerprint=self.parts.fingerprint(self.step) if self.dist.enabled else None)
        if path is not None:
            self.events.emit("on_checkpoint", trainer=self, step=self.step, path=str(path))
        return path

    def resume(self, folder: Path) -> None:
        """Continue from checkpoint ``folder``: weights, optimizers, schedule, scalers, pool,
        the run's state, the RNG states and the data position."""
        state = self.checkpointer.read(folder, self.recipe)
        self.parts.load_weights(folder)
        self.parts.load_state_dict(state, self.device)
        self.state.load_state_dict(state)
        note_line = resume_note(self.plugins, self.recipe.schedule, int(state.get("total_steps", self.total_steps)),
                                self.total_steps, self.step)
        if note_line and self.dist.is_main:
            note(note_line)
        if int(state.get("world_size", 1)) != self.dist.world_size and self.dist.is_main:
            note(f"{folder} was saved by {state.get('world_size', 1)} process(es) and resumes with "
                 f"{self.dist.world_size}: the data are sharded anew and the random streams of ranks it did not "
                 "have start fresh, so the run continues, but not bit for bit as an uninterrupted one")
        restore_rngs(state, self.rank, self.device)
        if self.dist.is_main:
            self.metrics.truncate_after(self.step)
