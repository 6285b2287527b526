"""A whole run: from a recipe and overrides to a finished run directory. The one home of
the orchestration that ``i2i run``, the tests and Python users share::

    from i2i import train
    result = train("recipes/facades.toml", ["data.root='../shared/data/facades/train'", "train.steps=100"])
    result.run_dir, result.status, result.evaluation

In order: the run directory is chosen (a new one, or the one to resume), locked against a
second process, the recipe loaded once and written there resolved; the starting point is
found (the newest intact checkpoint on resume, or step 0 for a run killed before its first
checkpoint); the trainer trains; a completed run is evaluated on its held-out split
(``eval.json``) and gets ``report.html``. Under ``torchrun`` every process calls
:func:`train`; only rank 0 writes files and says anything.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2i import messages
from i2i.devices import pick_device
from i2i.engine import distributed as dist
from i2i.engine.signals import Terminated, terminate_unwinds
from i2i.engine.trainer import Trainer
from i2i.errors import UsageError
from i2i.plugins import Plugins, get_plugins
from i2i.recipe import Recipe, load_recipe
from i2i.resources import resource_errors, training_memory_knobs
from i2i.runs.checkpoint import REQUIRED_FILES, newest_intact_checkpoint, set_aside
from i2i.runs.lock import RunLock
from i2i.runs.rundir import (
    check_layout,
    choose_run_dir,
    create_run_dir,
    is_restartable,
    restart_run_dir,
    write_recipe,
)
from i2i.workflow.finish import finish_run

Say = messages.Sink


@dataclass
class RunResult:
    """What a run left: its directory, how it ended (``completed``, ``interrupted``), the step
    it reached, the final evaluation (``EvalResult`` or ``None``) and the report's path."""

    run_dir: Path
    status: str
    step: int
    total_steps: int
    evaluation: Any = None
    report: Path | None = None
    trainer: Any = None


def train(recipe: str | Path | None, overrides: Sequence[str] = (), *, out: str | Path | None = None,
          device: str | None = None, resume: str | Path | bool | None = None, init_from: str | Path | None = None,
          finish: bool = True, quiet: bool = True, plugins: Plugins | None = None,
          say: Say = messages.to_stderr) -> RunResult:
    """Train ``recipe`` (a path) with ``--set``-style ``overrides`` into a run directory.

    ``out``: the run directory (default ``run.out``: ``runs/{recipe}``, with a ``-2``...
    suffix when taken). ``device``: ``auto``, ``cpu`` or ``cuda`` (default ``run.device``).
    ``resume``: continue a run: its directory, or ``True`` for the newest run of ``recipe``.
    ``init_from``: start the networks from trained weights (fine-tuning: an i2i checkpoint or
    a reference pix2pix ``latest_net_G.pth``; see :mod:`i2i.assembly.init_from`).
    ``finish``: evaluate a completed run and write its report. ``quiet``: no progress bar.
    Every message of the run (its own and its parts', through :mod:`i2i.messages`) goes to
    ``say``; under torchrun, ranks other than 0 say nothing. Raises :class:`i2i.errors.I2IError` subclasses for problems the
    user can act on.
    """
    plugins = plugins or get_plugins()
    sets = [*overrides, *([f"run.device={json.dumps(device)}"] if device else [])]
    if out is not None and not str(out).strip():
        raise UsageError("--out: empty; give the run directory, or leave --out out for runs/{recipe}")
    resuming = resume is not None and resume is not False
    if init_from is not None:
        if resuming:
            raise UsageError(f"--init-from {init_from} with --resume: a resumed run continues from its own "
                             "checkpoint (weights, optimisers, schedule, step), so it takes no other starting "
                             "weights; drop --resume to fine-tune into a new run")
        sets.append(f"train.init_from={json.dumps(str(init_from))}")
    if resuming:
        run_dir = resume_dir(resume, out, recipe, sets, plugins)
        resolved = with_run_dir(load_recipe(recipe or run_dir / "recipe.toml", sets, plugins), run_dir)
        info, torch_device = dist.init_distributed(pick_device(resolved.run.device, "run.device"))
    else:
        if recipe is None:
            raise UsageError("give a RECIPE, or --resume DIR to continue a run")
        resolved = load_recipe(recipe, [*sets, *([f"run.out={json.dumps(str(out))}"] if out else [])], plugins)
        info, torch_device = dist.init_distributed(pick_device(resolved.run.device, "run.device"))
        run_dir = Path(dist.broadcast_path(info, str(new_run_dir(resolved)) if info.is_main else None))
        resolved = with_run_dir(resolved, run_dir)
    say = say if info.is_main else messages.quiet
    lock = RunLock(run_dir)
    try:
        with messages.said_to(say):
            if info.is_main:
                take_lock(lock, say)
            return _train_locked(resolved, run_dir, plugins, torch_device, info, resuming, finish, quiet, say)
    finally:
        lock.release()


def _train_locked(resolved: Recipe, run_dir: Path, plugins: Plugins, device, info, resuming: bool, finish: bool,
                  quiet: bool, say: Say) -> RunResult:
    checkpoint = starting_point(run_dir, resolved, resuming, info.is_main, say)
    trainer, ended = None, "failed"
    try:
        with resource_errors(training_memory_knobs(resolved)):
            try:
                trainer = Trainer(resolved, run_dir, plugins, device, resume_from=checkpoint, show_progress=not quiet)
                if info.is_main:
                    write_recipe(resolved, create_run_dir(run_dir))
                    if checkpoint is not None:
                        say(f"resuming {run_dir} from {checkpoint.name} (step {trainer.step} of {trainer.total_steps})")
                dist.barrier(info)
                status = trainer.fit()
            finally:
                dist.shutdown()
            result = RunResult(run_dir, status, trainer.step, trainer.total_steps, trainer=trainer)
            if info.is_main:
                say(f"{status}: step {trainer.step}/{trainer.total_steps}, run directory {run_dir}")
                if status == "interrupted":
                    say(f"continue with: i2i run --resume {run_dir}")
                elif finish:
                    try:
                        with terminate_unwinds():
                            result.evaluation, result.report = finish_run(resolved, run_dir, device, quiet, say)
                    except Terminated:
                        say(f"terminated during the final evaluation: the run's checkpoints are complete; evaluate it "
                            f"with `i2i eval {run_dir}` and `i2i report {run_dir}`")
                        raise
            ended = status
    except KeyboardInterrupt:
        ended = "interrupted"
        raise
    finally:
        if trainer is not None:  # event on_run_end: after the final evaluation and report, whatever the outcome
            trainer.events.emit("on_run_end", run_dir=str(run_dir), status=ended)
    return result


def with_run_dir(recipe: Recipe, run_dir: Path) -> Recipe:
    """``recipe`` with ``run.out`` set to the chosen run directory (what ``recipe.toml`` records)."""
    return dataclasses.replace(recipe, run=dataclasses.replace(recipe.run, out=str(run_dir)))


def new_run_dir(recipe: Recipe) -> Path:
    """The directory a new run of ``recipe`` goes to (see :func:`i2i.runs.rundir.choose_run_dir`)."""
    return choose_run_dir(recipe, explicit="{recipe}" not in recipe.run.out)


def take_lock(lock, say: Say) -> None:
    """Lock the run directory (refused while another run uses it); say when a killed run's
    lock is taken over."""
    lock.acquire()
    if lock.stale is not None:
        say(f"{lock.folder}: taking over the lock left by {lock.stale.stale_description()}")


def starting_point(run_dir: Path, resolved: Recipe, resuming: bool, is_main: bool, say: Say) -> Path | None:
    """The checkpoint to continue from: on resume the newest intact one (saying which newer
    ones are skipped and why). A run that stopped before its first checkpoint (resumed or
    run again into its folder) restarts from step 0, saying so; returns None then."""
    checkpoint = None
    check_layout(run_dir)
    if resuming:
        required = REQUIRED_FILES + (("discriminator.safetensors",) if resolved.discriminator else ())
        checkpoint, skipped = newest_intact_checkpoint(run_dir / "checkpoints", required)
        for path, why in skipped if is_main else ():  # out of the way of rotation and the final evaluation
            say(f"skipping checkpoint {path.name}: {why}; moved to {set_aside(path).name}")
        if checkpoint is None and is_main:
            had = "no intact checkpoint" if skipped else "no checkpoint: it stopped before its first one"
            say(f"{run_dir}: {had}; starting the run again from step 0")
            restart_run_dir(run_dir)
    elif is_main and is_restartable(run_dir):
        say(f"{run_dir}: the run there stopped before its first checkpoint; starting it again from step 0")
        restart_run_dir(run_dir)
    return checkpoint


def resume_dir(resume: str | Path | bool, out: str | Path | None, recipe: str | Path | None, sets: Sequence[str],
               plugins: Plugins) -> Path:
    """The run directory to continue: the one given (``resume`` or ``out``), or the newest run
    of the recipe."""
    given = None if resume is True or resume == "" else Path(resume)
    if given is not None and out is not None and Path(out).resolve() != given.resolve():
        raise UsageError(f"--out {out} with --resume {given}: a resumed run continues in its own directory; "
                         "drop --out, or give the run directory once")
    if given is not None or out is not None:
        path = given or Path(out)
        if not (path / "recipe.toml").exists():
            raise UsageError(f"--resume {path}: not a run directory (no recipe.toml in it); start a run there "
                             f"with `i2i run RECIPE --out {path}`")
        return path
    if recipe is None:
        raise UsageError("--resume without DIR needs a RECIPE whose newest run to continue")
    resolved = load_recipe(recipe, sets, plugins)
    base = Path(resolved.run.out.replace("{recipe}", resolved.stem))
    candidates = [p for p in [base, *base.parent.glob(f"{base.name}-*")] if (p / "recipe.toml").exists()]
    if not candidates:
        raise UsageError(f"--resume: no run of {recipe} found under {base.parent} (looked for {base.name}[-N]/)")
    return max(candidates, key=lambda p: (p / "recipe.toml").stat().st_mtime)
