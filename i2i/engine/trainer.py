"""The trainer: builds a recipe's components and runs the training loop.

Order of work per step: next batch -> device -> ``task.to_network`` -> shared geometry ->
``task.make_pair`` -> learning rates -> GAN step -> logs, samples, checkpoint, events.
Everything that decides the next step (weights, optimizers, RNG states, data position)
is in the checkpoint, so ``--resume`` continues exactly.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from i2i import __version__
from i2i.data.geometry import PairGeometry
from i2i.data.loader import collate_samples
from i2i.data.sampler import EpochSampler
from i2i.engine import build as B
from i2i.engine.checkpoint import CheckpointWriter, load_weights, read_trainer_state
from i2i.engine.events import Events
from i2i.engine.gan_step import GANStep
from i2i.engine.progress import ProgressDisplay
from i2i.engine.rundir import MetricsLog
from i2i.engine.samples import save_grid
from i2i.engine.schedule import apply_lr, lr_factor
from i2i.engine.state import rng_state, seed_everything, set_rng_state
from i2i.errors import I2IError, UsageError
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.tasks import Task

SAMPLE_IMAGES = 4


class NonFiniteLossError(I2IError):
    """A loss became NaN or infinite."""


class Trainer:
    """Trains the recipe's generator (and discriminator) into ``run_dir``.

    Plugins see it in training events: ``recipe``, ``run_dir``, ``step``, ``total_steps``,
    ``generator``, ``discriminator``, ``task`` and ``device`` are public.
    """

    def __init__(self, recipe: Recipe, run_dir: Path, plugins: Plugins, device: torch.device,
                 resume_from: Path | None = None, show_progress: bool = True):
        self.recipe = recipe
        self.run_dir = Path(run_dir)
        self.plugins = plugins
        self.device = device
        self.show_progress = show_progress
        self.step = 0
        if recipe.train.num_threads:
            torch.set_num_threads(recipe.train.num_threads)
        seed_everything(recipe.run.seed)

        self.task: Task = B.build_task(plugins, recipe)
        self.source = B.build_source(plugins, recipe)
        self.train_set = self.source.dataset("train")
        self.sampler = EpochSampler(len(self.train_set), recipe.train.batch_size, seed=recipe.run.seed)
        if self.sampler.batches_per_epoch < 1:
            raise UsageError(f"train.batch_size: {recipe.train.batch_size} is larger than the training split "
                             f"({len(self.train_set)} samples from {recipe.data.root or recipe.source.name})")
        self.total_steps = recipe.train.steps or (recipe.train.epochs or 1) * self.sampler.batches_per_epoch
        self.loader = self._loader()
        self.geometry = PairGeometry.from_recipe(recipe.data).to(device)

        self.generator = B.build_generator(plugins, recipe, self.task).to(device)
        self.discriminator = B.build_discriminator(plugins, recipe, self.task)
        if self.discriminator is not None:
            self.discriminator = self.discriminator.to(device)
        self.terms = B.build_losses(plugins, recipe)
        self.opt_g = self._optimizer(self.generator, recipe.optim.lr_g)
        self.opt_d = self._optimizer(self.discriminator, recipe.optim.lr_d) if self.discriminator else None
        self.gan_step = GANStep(self.generator, self.discriminator, self.opt_g, self.opt_d, self.terms)

        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self.checkpoints = CheckpointWriter(self.run_dir / "checkpoints", recipe.train.keep_checkpoints)
        self.events = Events(plugins)
        self._stop_signal: int | None = None
        self._sample_batch = self._fixed_samples()
        if resume_from is not None:
            self.load_checkpoint(resume_from)

    # -- construction helpers -------------------------------------------------------------

    def _optimizer(self, net: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        o = self.recipe.optim
        cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
        return cls(net.parameters(), lr=lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)

    def _loader(self) -> DataLoader:
        workers = self.recipe.data.num_workers
        return DataLoader(self.train_set, batch_size=self.recipe.train.batch_size, sampler=self.sampler,
                          num_workers=workers, collate_fn=collate_samples, drop_last=True,
                          pin_memory=self.device.type == "cuda", persistent_workers=workers > 0,
                          generator=torch.Generator().manual_seed(self.recipe.run.seed))

    def _fixed_samples(self) -> list[dict[str, Any]]:
        """A few fixed images for sample grids: from ``val`` when the source has it."""
        dataset = self.source.dataset("val") if "val" in self.source.splits() else self.train_set
        n = len(dataset)
        picks = sorted({round(i * (n - 1) / max(1, SAMPLE_IMAGES - 1)) for i in range(min(SAMPLE_IMAGES, n))})
        return [collate_samples([dataset[i]]) for i in picks]

    # -- the loop ---------------------------------------------------------------------------

    def prepare(self, raw: dict[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """A decoded batch -> the network's ``(input, target)`` on the device."""
        batch = {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                 for k, v in raw.items()}
        batch = self.task.to_network(batch)
        batch = self.geometry(batch, train=train)
        return self.task.make_pair(batch, train)

    def batches(self) -> Iterator[dict[str, Any]]:
        """Training batches from the current step on, epoch after epoch."""
        per_epoch = self.sampler.batches_per_epoch
        epoch, position = divmod(self.step, per_epoch)
        while True:
            self.sampler.set_position(epoch, position)
            yield from self.loader
            epoch, position = epoch + 1, 0

    def fit(self) -> str:
        """Train to ``total_steps``; returns ``"completed"`` or ``"interrupted"``."""
        status = "failed"
        previous = self._install_signal_handlers()
        title = f"{self.recipe.stem}"
        try:
            self.events.emit("on_train_start", trainer=self)
            with ProgressDisplay(self.total_steps, self.step, title, self.show_progress) as display:
                status = self._loop(display)
        finally:
            self._restore_signal_handlers(previous)
            self.events.emit("on_train_end", trainer=self, step=self.step, status=status)
        return status

    def _loop(self, display: ProgressDisplay) -> str:
        train = self.recipe.train
        self.generator.train()
        if self.discriminator is not None:
            self.discriminator.train()
        pending: list[dict[str, torch.Tensor]] = []
        last_log_time, last_log_step = time.perf_counter(), self.step
        last_checkpoint = None
        data = self.batches()
        while self.step < self.total_steps:
            x, y = self.prepare(next(data), train=True)
            factor = lr_factor(self.step, self.total_steps, self.recipe.schedule)
            lr_g = apply_lr(self.opt_g, self.recipe.optim.lr_g, factor)
            lr_d = apply_lr(self.opt_d, self.recipe.optim.lr_d, factor) if self.opt_d else None
            pending.append(self.gan_step(x, y))
            self.step += 1
            logs: dict[str, Any] = {}
            due_log = self.step % train.log_every == 0 or self.step == self.total_steps
            due_checkpoint = self.step % train.checkpoint_every == 0 or self.step == self.total_steps
            if due_log or due_checkpoint:
                self._check_finite(pending)
            if due_log:
                now = time.perf_counter()
                logs = self._summarise(pending, now - last_log_time, self.step - last_log_step, lr_g, lr_d)
                self.metrics.write(logs)
                last_log_time, last_log_step = now, self.step
                pending = []
            if self.step % train.sample_every == 0 or self.step == self.total_steps:
                self.write_samples()
            if due_checkpoint:
                last_checkpoint = self.save_checkpoint()
            self.events.emit("on_step_end", trainer=self, step=self.step, logs=logs)
            display.update(self.step, logs)
            if self._stop_signal is not None:
                if last_checkpoint is None or not last_checkpoint.name.endswith(f"{self.step:08d}"):
                    self._check_finite(pending)
                    self.save_checkpoint()
                display.message(f"stopped by signal {self._stop_signal} at step {self.step}; "
                                f"continue with: i2i run --resume {self.run_dir}")
                return "interrupted"
        return "completed"

    def _summarise(self, pending: list[dict[str, torch.Tensor]], seconds: float, steps: int,
                   lr_g: float, lr_d: float | None) -> dict[str, Any]:
        keys = pending[0].keys()
        means = torch.stack([torch.stack([p[k].float() for p in pending]).mean() for k in keys]).tolist()
        logs: dict[str, Any] = {"step": self.step, "epoch": self.step / self.sampler.batches_per_epoch}
        logs.update(zip(keys, means))
        logs["lr_g"] = lr_g
        if lr_d is not None:
            logs["lr_d"] = lr_d
        logs["images_per_s"] = steps * self.recipe.train.batch_size / max(seconds, 1e-9)
        return logs

    def _check_finite(self, pending: list[dict[str, torch.Tensor]]) -> None:
        """Stop on a NaN/inf loss, naming the first bad step and term (one sync per call)."""
        if not pending:
            return
        keys = list(pending[0])
        table = torch.stack([torch.stack([p[k].float() for k in keys]) for p in pending])
        finite = torch.isfinite(table)
        if bool(finite.all()):
            return
        row, col = (~finite).nonzero()[0].tolist()
        step = self.step - len(pending) + row + 1
        raise NonFiniteLossError(
            f"loss {keys[col]} became {table[row, col].item()} at step {step}; training stopped. "
            f"The last good checkpoint is kept in {self.run_dir / 'checkpoints'}; lower the learning rate "
            "or check the data, then resume or restart")

    # -- samples and checkpoints ---------------------------------------------------------

    @torch.no_grad()
    def write_samples(self) -> Path:
        """``samples/step_XXXXXXXX.png``: input | output | target for the fixed images."""
        from i2i.nn.sizing import forward_any_size

        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            was_training = self.generator.training
            self.generator.eval()
            rows = []
            for raw in self._sample_batch:
                x, y = self.prepare(raw, train=False)
                out = forward_any_size(self.generator, x)
                rows.append((self.task.to_display(x, "input"), self.task.to_display(out, "output"),
                             self.task.to_display(y, "target")))
            self.generator.train(was_training)
        inputs, outputs, targets = (torch.cat(parts) if len({p.shape for p in parts}) == 1 else parts
                                    for parts in zip(*rows))
        if isinstance(inputs, torch.Tensor):
            return save_grid(self.run_dir / "samples" / f"step_{self.step:08d}.png", inputs, outputs, targets)
        path = self.run_dir / "samples" / f"step_{self.step:08d}.png"
        for i, (a, b, c) in enumerate(zip(inputs, outputs, targets)):
            save_grid(path.with_name(f"{path.stem}_{i}.png"), a, b, c)
        return path

    def weight_metadata(self, role: str, component: str) -> dict[str, str]:
        import json

        return {"format": "i2i.weights.v1", "role": role, "component": component, "i2i_version": __version__,
                "recipe_digest": self.recipe.digest(), "step": str(self.step),
                "in_channels": str(self.task.in_channels), "out_channels": str(self.task.out_channels),
                "recipe": json.dumps(self.recipe.as_dict())}

    def trainer_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"step": self.step, "total_steps": self.total_steps,
                                 "recipe_digest": self.recipe.digest(), "opt_g": self.opt_g.state_dict(),
                                 "rng": rng_state()}
        if self.opt_d is not None:
            state["opt_d"] = self.opt_d.state_dict()
        return state

    def save_checkpoint(self) -> Path:
        weights = {"generator": self.generator.state_dict()}
        meta = {"generator": self.weight_metadata("generator", self.recipe.generator.name)}
        if self.discriminator is not None:
            weights["discriminator"] = self.discriminator.state_dict()
            meta["discriminator"] = self.weight_metadata("discriminator", self.recipe.discriminator.name)
        path = self.checkpoints.write(self.step, weights, meta, self.trainer_state())
        self.events.emit("on_checkpoint", trainer=self, step=self.step, path=str(path))
        return path

    def load_checkpoint(self, folder: Path) -> None:
        """Restore weights, optimizers, RNG states and the step from a checkpoint folder."""
        state = read_trainer_state(folder)
        if state.get("recipe_digest") != self.recipe.digest():
            raise UsageError(f"{folder}: this checkpoint was trained with a different recipe "
                             f"(digest {state.get('recipe_digest')} vs {self.recipe.digest()}); resume with the "
                             "run's own recipe.toml, or start a new run")
        load_weights(self.generator, folder / "generator.safetensors")
        if self.discriminator is not None:
            load_weights(self.discriminator, folder / "discriminator.safetensors")
        self.opt_g.load_state_dict(state["opt_g"])
        if self.opt_d is not None:
            self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])
        set_rng_state(state["rng"])
        self.metrics.truncate_after(self.step)

    # -- signals ---------------------------------------------------------------------------

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
        if self._stop_signal is not None:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self._stop_signal = signum
