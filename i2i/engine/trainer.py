"""The trainer: builds a recipe's components and runs the training loop.

Per step: ``train.accumulate`` decoded batches -> the batch pipeline on the device
(geometry, ``task.to_data_units``, ``task.make_pair``, photometric jitter; see
:mod:`i2i.data.pipeline`) -> learning rates -> GAN step -> EMA -> logs, validation, samples,
checkpoint, events. Everything that decides the next step (weights, optimizers, schedule,
scalers, image pool, RNG states of every rank, data position) is in the checkpoint, so
``--resume`` continues exactly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset

from i2i import __version__
from i2i.data import datapath
from i2i.data.dataset import CheckedDataset, sample_size
from i2i.data.loader import collate_samples, same_size_batches
from i2i.data.sampler import EpochBatchSampler
from i2i.engine import build as B
from i2i.engine import distributed as dist
from i2i.engine.checkpoint import (CheckpointWriter, latest_checkpoint, load_weights, read_trainer_state,
                                  step_dir_name)
from i2i.engine.provenance import component_provenance
from i2i.engine.ema import EMA
from i2i.engine.events import Events
from i2i.engine.gan_step import DiscriminatorObjective, GANStep
from i2i.engine.image_pool import ImagePool
from i2i.engine.precision import Precision, configure_device, resolve_precision
from i2i.engine.progress import ProgressDisplay
from i2i.engine.resources import check_num_threads
from i2i.engine.rundir import MetricsLog
from i2i.engine.samples import save_grid
from i2i.engine.schedule import apply_lr, resume_note
from i2i.engine.state import rng_state, seed_everything, set_rng_state
from i2i.engine.validation import validate
from i2i.errors import I2IError, UsageError
from i2i.finite import nonfinite_weights
from i2i.metrics import higher_is_better
from i2i.nn.sizing import forward_any_size, unwrap
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.tasks import Task

SAMPLE_IMAGES = 4


class NonFiniteLossError(I2IError):
    """A loss, or the weights about to be saved, became NaN or infinite."""


class Trainer:
    """Trains the recipe's generator (and discriminator) into ``run_dir``.

    Plugins see it in training events; ``recipe``, ``run_dir``, ``step``, ``total_steps``,
    ``generator``, ``discriminator``, ``ema`` (or None), ``task``, ``device`` and ``rank``
    are public, as is ``last_validation`` (the latest validation metrics).
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
                                         buckets=self._size_buckets())
        self.steps_per_epoch = self.sampler.batches_per_epoch // train.accumulate
        if self.steps_per_epoch < 1:
            raise UsageError(
                f"train.batch_size: {train.batch_size} x train.accumulate {train.accumulate} x {self.dist.world_size} "
                f"process(es) needs more samples than the training split has ({len(self.train_set)} from "
                f"{recipe.data_root or recipe.source.name})")
        self.total_steps = train.steps or (train.epochs or 1) * self.steps_per_epoch
        self.loader = self._loader()
        self.skipped_files = 0

        self.precision = Precision(resolve_precision(train.precision, self.device), self.device)
        self.channels_last = train.channels_last == "on" or (train.channels_last == "auto" and self.device.type == "cuda")
        self.pipeline = datapath.pipeline(recipe, self.task, self.device, channels_last=self.channels_last)
        self.generator = self._prepare_network(B.build_generator(plugins, recipe, self.task))
        discriminator = B.build_discriminator(plugins, recipe, self.task)
        self.discriminator = self._prepare_network(discriminator) if discriminator is not None else None
        self.terms = B.build_losses(plugins, recipe)
        self.ema = EMA(self.generator, train.ema_decay) if train.ema_decay and self.dist.is_main else None
        self.opt_g = B.build_optimizer(plugins, recipe, "g", self.generator)
        self.opt_d = (B.build_optimizer(plugins, recipe, "d", self.discriminator)
                      if self.discriminator is not None else None)
        self.gan_step = self._gan_step()
        self.schedule = B.build_schedule(plugins, recipe.schedule, self.total_steps)
        seed_everything(recipe.run.seed + self.rank)

        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self.checkpoints = CheckpointWriter(self.run_dir / "checkpoints", train.keep_checkpoints)
        self.events = Events(plugins, enabled=self.dist.is_main)
        self.show_progress = show_progress and self.dist.is_main
        self._stop_signal: int | None = None
        self._sample_batches = self._fixed_samples()
        self._trace = self._trace_file()
        if resume_from is not None:
            self.load_checkpoint(resume_from)

    # -- construction helpers ---------------------------------------------------------------

    def _size_buckets(self) -> list[tuple[int, int]] | None:
        """Each training sample's decoded size, when batches hold more than one image and the
        source can tell sizes cheaply (so batches only mix images of one size)."""
        if self.recipe.train.batch_size * self.dist.world_size == 1 or not hasattr(self.train_set, "size_of"):
            return None
        d = self.recipe.data
        return [sample_size(self.train_set, i, d.preprocess, d.load_size, d.crop_size)
                for i in range(len(self.train_set))]

    def _prepare_network(self, net: torch.nn.Module) -> torch.nn.Module:
        if self.recipe.train.sync_batchnorm and self.dist.enabled:
            if self.device.type != "cuda":
                raise UsageError("train.sync_batchnorm: SyncBatchNorm needs CUDA devices; turn it off for CPU runs")
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = net.to(self.device)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        return net

    def _gan_step(self) -> GANStep:
        train = self.recipe.train
        generator = self.generator
        discriminator = self.discriminator
        if train.compile:
            generator = torch.compile(generator)
            discriminator = torch.compile(discriminator) if discriminator is not None else None
        adversarial = next((t for t in self.terms if t.role == "adversarial"), None)
        objective = DiscriminatorObjective(discriminator, adversarial) if adversarial is not None else None
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            generator = DistributedDataParallel(generator, device_ids=ids)
            if objective is not None:
                objective = DistributedDataParallel(objective, device_ids=ids)
        pool = ImagePool(train.pool_size) if train.pool_size else None
        self._pool = pool
        return GANStep(generator, objective, self.opt_g, self.opt_d, self.terms, self.precision,
                       train.clip_grad_norm, pool, self.task.pixel_weights)

    def _loader(self) -> DataLoader:
        workers = self.recipe.data.num_workers
        return DataLoader(self.train_set, batch_sampler=self.sampler, num_workers=workers,
                          collate_fn=collate_samples, pin_memory=self.device.type == "cuda",
                          persistent_workers=workers > 0,
                          generator=torch.Generator().manual_seed(self.recipe.run.seed))

    def _fixed_samples(self) -> list[dict[str, Any]]:
        """A few fixed images for sample grids: from the validation split when there is one."""
        dataset = self.val_set if self.val_set is not None else self.train_set
        n = len(dataset)
        picks = sorted({round(i * (n - 1) / max(1, SAMPLE_IMAGES - 1)) for i in range(min(SAMPLE_IMAGES, n))})
        return [collate_samples([dataset[i]]) for i in picks]

    def _trace_file(self):
        """``I2I_TRACE_SAMPLES=DIR``: each rank appends the paths it trains on to DIR/rank<N>.txt
        (for checking data sharding and order)."""
        folder = os.environ.get("I2I_TRACE_SAMPLES")
        if not folder:
            return None
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder) / f"rank{self.rank}.txt"

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
        previous = self._install_signal_handlers()
        try:
            self.events.emit("on_train_start", trainer=self)
            with ProgressDisplay(self.total_steps, self.step, self.recipe.stem, self.show_progress) as display:
                status = self._loop(display)
        finally:
            self._restore_signal_handlers(previous)
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
                self._check_finite(pending)
            if due_log:
                now = time.perf_counter()
                logs = self._summarise(pending, now - last_time, self.step - last_step, lr_g, lr_d)
                pending, last_time, last_step = [], now, self.step
            if due_val:
                logs.update(self._validate())
            if due_log or due_val:
                logs.setdefault("step", self.step)
                if self.dist.is_main:
                    self.metrics.write(logs)
            if self.dist.is_main and (self.step % train.sample_every == 0 or end):
                self.write_samples()
            new_best = due_val and self._is_new_best(logs)
            if new_best:  # before saving: the checkpoint's trainer state must hold the best it makes
                self._set_best()
            saved = self.save_checkpoint() if due_checkpoint or new_best else None
            if new_best and saved is not None:
                self._write_best()
            self.events.emit("on_step_end", trainer=self, step=self.step, logs=logs)
            display.update(self.step, logs)
            if self._should_stop(due_log):
                if saved is None:
                    self._check_finite(pending)
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
            return self._stop_signal is not None
        return due_log and dist.any_rank(self._stop_signal is not None, self.dist, self.device)

    def _summarise(self, pending: list[dict[str, torch.Tensor]], seconds: float, steps: int,
                   lr_g: float, lr_d: float | None) -> dict[str, Any]:
        keys = list(pending[0])
        means = torch.stack([torch.stack([p[k].float() for p in pending]).mean() for k in keys]).tolist()
        logs: dict[str, Any] = {"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4)}
        logs.update(zip(keys, means))
        logs["lr_g"] = lr_g
        if lr_d is not None:
            logs["lr_d"] = lr_d
        images = steps * self.recipe.train.batch_size * self.recipe.train.accumulate * self.dist.world_size
        logs["images_per_s"] = images / max(seconds, 1e-9)
        if self.skipped_files:
            logs["data_skipped"] = self.skipped_files
        return logs

    def _check_finite(self, pending: list[dict[str, torch.Tensor]]) -> None:
        """Stop on a NaN/inf loss on any rank, naming the first bad step and term (one sync)."""
        message = None
        if pending:
            keys = list(pending[0])
            table = torch.stack([torch.stack([p[k].float() for k in keys]) for p in pending])
            finite = torch.isfinite(table)
            if not bool(finite.all()):
                row, col = (~finite).nonzero()[0].tolist()
                message = (f"loss {keys[col]} became {table[row, col].item()} at step "
                           f"{self.step - len(pending) + row + 1}")
        if dist.any_rank(message is not None, self.dist, self.device):
            where = message or "a loss became non-finite on another process"
            raise NonFiniteLossError(f"{where}; training stopped. {self._kept_checkpoint()}; lower the learning "
                                     "rate (optim.lr_g, optim.lr_d) or check the data, then resume or restart")

    def _kept_checkpoint(self) -> str:
        """Which checkpoint a stopped run leaves as its newest good one."""
        last = latest_checkpoint(self.run_dir / "checkpoints")
        if last is None:
            return "No checkpoint was written before (the run restarts from step 0)"
        return f"The last good checkpoint, {last.name}, is kept in {last.parent}"

    # -- validation, samples --------------------------------------------------------------

    def _validate(self) -> dict[str, float]:
        if not self.dist.is_main:
            return {}
        limit = self.recipe.train.val_images
        dataset = self.val_set if limit is None else Subset(self.val_set, range(min(limit, len(self.val_set))))
        loader = same_size_batches(dataset, self.recipe.train.batch_size)
        generators = {"model": unwrap(self.generator)}
        if self.ema is not None:
            generators["ema"] = self.ema.module
        with torch.random.fork_rng(devices=self._rng_devices()):
            metrics = validate(loader, self.prepare, self.task, generators,
                               with_baseline="val_input_psnr" not in self.last_validation)
        baseline = {k: v for k, v in self.last_validation.items() if k.startswith("val_input_")}
        metrics = {**baseline, **metrics}
        self.last_validation = metrics
        self.schedule.observe(metrics)
        self.events.emit("on_validation_end", trainer=self, step=self.step, metrics=metrics)
        return metrics

    def _is_new_best(self, logs: dict[str, Any]) -> bool:
        name = self.recipe.train.best_metric
        if not name or not self.dist.is_main or name not in logs:
            return False
        value = logs[name]
        if self.best is None:
            return True
        return value > self.best["value"] if higher_is_better(name) else value < self.best["value"]

    def _set_best(self) -> None:
        """This step is the best so far: its checkpoint (written next) becomes the kept best."""
        name = self.recipe.train.best_metric
        self.best = {"step": self.step, "metric": name, "value": self.last_validation[name],
                     "folder": step_dir_name(self.step)}

    def _write_best(self) -> None:
        tmp = self.run_dir / "checkpoints" / "best.json.tmp"
        tmp.write_text(json.dumps(self.best))
        os.replace(tmp, self.run_dir / "checkpoints" / "best.json")

    def _rng_devices(self) -> list[int]:
        return [self.device.index or 0] if self.device.type == "cuda" else []

    @torch.no_grad()
    def write_samples(self) -> Path:
        """``samples/step_XXXXXXXX.png``: input | output | target rows for the fixed images
        (the EMA generator's output when EMA is on)."""
        net = self.ema.module if self.ema is not None else unwrap(self.generator)
        with torch.random.fork_rng(devices=self._rng_devices()):
            was_training = net.training
            net.eval()
            rows = []
            for raw in self._sample_batches:
                x, y = self.prepare(raw, train=False)
                rows.append(self.task.display(x, forward_any_size(net, x), y))
            net.train(was_training)
        path = self.run_dir / "samples" / f"step_{self.step:08d}.png"
        if len({r[0].shape for r in rows}) == 1:
            return save_grid(path, *(torch.cat(parts) for parts in zip(*rows)))
        for i, row in enumerate(rows):
            save_grid(path.with_name(f"{path.stem}_{i}.png"), *row)
        return path

    # -- checkpoints ----------------------------------------------------------------------

    def weight_metadata(self, role: str, component: str) -> dict[str, str]:
        """The metadata header of a weights file: enough to rebuild the network from it alone."""
        return {"format": "i2i.weights.v1", "role": role, "component": component, "i2i_version": __version__,
                "recipe_digest": self.recipe.digest(), "step": str(self.step),
                "in_channels": str(self.task.in_channels), "out_channels": str(self.task.out_channels),
                "recipe": json.dumps(self.recipe.as_dict()),
                "components": json.dumps(component_provenance(self.plugins, self.recipe))}

    def trainer_state(self, rank_rngs: dict[str, list[torch.Tensor]]) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self.step, "total_steps": self.total_steps, "recipe_digest": self.recipe.digest(),
            "world_size": self.dist.world_size, "opt_g": self.opt_g.state_dict(), "rng": rng_state(),
            "rank_rngs": rank_rngs, "schedule": self.schedule.state_dict(),
            "scalers": self.gan_step.scaler_states(), "best": self.best,
        }
        if self.opt_d is not None:
            state["opt_d"] = self.opt_d.state_dict()
        if self._pool is not None:
            state["pool"] = self._pool.state_dict()
        return state

    def save_checkpoint(self) -> Path | None:
        """Write ``checkpoints/step_XXXXXXXX/`` (rank 0) and return it; other ranks return None."""
        rank_rngs = {"cpu": dist.gather_rng_states(self.dist, torch.get_rng_state(), self.device)}
        if self.device.type == "cuda":
            rank_rngs["cuda"] = dist.gather_rng_states(self.dist, torch.cuda.get_rng_state(self.device), self.device)
        if not self.dist.is_main:
            return None
        component = {"generator": self.recipe.generator.name}
        weights = {"generator": unwrap(self.generator).state_dict()}
        if self.discriminator is not None:
            weights["discriminator"] = unwrap(self.discriminator).state_dict()
            component["discriminator"] = self.recipe.discriminator.name
        if self.ema is not None:
            weights["generator_ema"] = self.ema.module.state_dict()
            component["generator_ema"] = self.recipe.generator.name
        bad = nonfinite_weights(weights)
        if bad:
            counts = ", ".join(f"{role} {n}" for role, n in bad.items())
            raise NonFiniteLossError(f"step {self.step}: the weights hold NaN/infinite values ({counts}), so no "
                                     f"checkpoint was written. {self._kept_checkpoint()}; lower the learning rate "
                                     "(optim.lr_g, optim.lr_d) or check train.ema_decay and the data")
        meta = {role: self.weight_metadata(role, name) for role, name in component.items()}
        protect = {self.run_dir / "checkpoints" / self.best["folder"]} if self.best else set()
        path = self.checkpoints.write(self.step, weights, meta, self.trainer_state(rank_rngs), protect)
        self.events.emit("on_checkpoint", trainer=self, step=self.step, path=str(path))
        return path

    def load_checkpoint(self, folder: Path) -> None:
        """Restore weights, optimizers, schedule, scalers, pool, RNG states and the step."""
        state = read_trainer_state(folder)
        if state.get("recipe_digest") != self.recipe.digest():
            raise UsageError(f"{folder}: this checkpoint was trained with a different recipe "
                             f"(digest {state.get('recipe_digest')} vs {self.recipe.digest()}); resume with the "
                             "run's own recipe.toml (only train.steps/epochs, logging and checkpoint intervals, "
                             "data.root/num_workers and [run] may change), or start a new run")
        if int(state.get("world_size", 1)) != self.dist.world_size:
            raise UsageError(f"{folder}: saved by {state.get('world_size')} process(es), resumed with "
                             f"{self.dist.world_size}; resume with the same number of processes")
        load_weights(unwrap(self.generator), folder / "generator.safetensors")
        if self.discriminator is not None:
            load_weights(unwrap(self.discriminator), folder / "discriminator.safetensors")
        if self.ema is not None:
            ema_file = folder / "generator_ema.safetensors"
            if ema_file.exists():
                load_weights(self.ema.module, ema_file)
            else:
                self.ema.copy_from(self.generator)
        self.opt_g.load_state_dict(state["opt_g"])
        if self.opt_d is not None:
            self.opt_d.load_state_dict(state["opt_d"])
        self.schedule.load_state_dict(state["schedule"])
        self.gan_step.load_scaler_states(state.get("scalers", {}))
        if self._pool is not None and "pool" in state:
            self._pool.load_state_dict(state["pool"], self.device)
        self.best = state.get("best")
        self.step = int(state["step"])
        note = resume_note(self.plugins, self.recipe.schedule, int(state.get("total_steps", self.total_steps)),
                           self.total_steps, self.step)
        if note and self.dist.is_main:
            print(f"i2i: {note}", file=sys.stderr, flush=True)
        set_rng_state(state["rng"])
        torch.set_rng_state(state["rank_rngs"]["cpu"][self.rank])
        if self.device.type == "cuda" and "cuda" in state["rank_rngs"]:
            torch.cuda.set_rng_state(state["rank_rngs"]["cuda"][self.rank], self.device)
        if self.dist.is_main:
            self.metrics.truncate_after(self.step)

    # -- signals -----------------------------------------------------------------------------

    def _install_signal_handlers(self) -> dict[int, Any]:
        previous = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        except ValueError:  # not the main thread
            pass
        return previous

    def _restore_signal_handlers(self, previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop_signal is not None:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self._stop_signal = signum
