"""``i2i run``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from i2i.cli.options import loaded_plugins, set_option
from i2i.errors import UsageError


@click.command("run")
@click.argument("recipe", required=False, type=click.Path(dir_okay=False))
@set_option
@click.option("--out", help="Run directory (sets run.out).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Training device (sets run.device).")
@click.option("--resume", is_flag=False, flag_value="", default=None, metavar="[DIR]",
              help="Continue a run from its newest checkpoint: DIR, or without DIR the newest run of RECIPE.")
@click.option("--init-from", metavar="CHECKPOINT",
              help="Fine-tune: start the generator and discriminator from a run directory, checkpoint folder or "
                   "file, or a reference latest_net_G.pth (sets train.init_from); optimisers and schedule start "
                   "fresh.")
@click.option("--nproc", type=click.IntRange(min=1), default=1,
              help="Train with N processes on this machine (DistributedDataParallel through torchrun).")
@click.option("--quiet", is_flag=True, help="No progress display.")
def run(recipe: str | None, sets: tuple[str, ...], out: str | None, device: str | None, resume: str | None,
        init_from: str | None, nproc: int, quiet: bool) -> None:
    """Train the recipe's model into a run directory.

    \b
    The run directory receives recipe.toml (resolved), metrics.jsonl, samples/*.png and
    checkpoints/step_*/ (safetensors weights and the exact trainer state).
    Multi-node: torchrun --nnodes=2 --node_rank=R --rdzv_endpoint=HOST:PORT
                         --nproc_per_node=GPUS -m i2i run RECIPE ...
    """
    from i2i.engine import distributed as dist
    from i2i.engine.build import pick_device
    from i2i.engine.resources import resource_errors, training_memory_knobs
    from i2i.engine.rundir import choose_run_dir, create_run_dir, write_recipe
    from i2i.engine.runlock import RunLock
    from i2i.engine.trainer import Trainer
    from i2i.recipe import load_recipe

    if nproc > 1 and dist.env_world_size() == 1:
        raise SystemExit(dist.relaunch_with_torchrun(nproc, _argv_without_nproc(sys.argv[1:])))
    if out is not None and not out.strip():
        raise UsageError("--out: empty; give the run directory, or leave --out out for runs/{recipe}")
    plugins = loaded_plugins(show_problems=dist.env_rank() == 0)
    if resume is not None and resume.endswith(".toml") and Path(resume).is_file() and recipe is None:
        recipe, resume = resume, ""  # `i2i run --resume RECIPE` meant RECIPE --resume
    overrides = list(sets)
    if device:
        overrides.append(f"run.device={json.dumps(device)}")
    if init_from is not None:  # fine-tuning (i2i.engine.init_from)
        if resume is not None:
            raise UsageError(f"--init-from {init_from} with --resume: a resumed run continues from its own "
                             "checkpoint (weights, optimisers, schedule, step), so it takes no other starting "
                             "weights; drop --resume to fine-tune into a new run")
        overrides.append(f"train.init_from={json.dumps(init_from)}")

    if resume is not None:
        run_dir = _resume_dir(resume, out, recipe, overrides, plugins)
        recipe_path = recipe or str(run_dir / "recipe.toml")
        resolved = load_recipe(recipe_path, [*overrides, f"run.out={json.dumps(str(run_dir))}"], plugins)
        info, torch_device = dist.init_distributed(pick_device(resolved.run.device))
    else:
        if recipe is None:
            raise click.UsageError("give a RECIPE, or --resume DIR to continue a run")
        if out:
            overrides.append(f"run.out={json.dumps(out)}")
        resolved = load_recipe(recipe, overrides, plugins)
        info, torch_device = dist.init_distributed(pick_device(resolved.run.device))
        chosen = str(choose_run_dir(resolved, explicit="{recipe}" not in resolved.run.out)) if info.is_main else None
        run_dir = Path(dist.broadcast_path(info, chosen))
        resolved = load_recipe(recipe, [*overrides, f"run.out={json.dumps(str(run_dir))}"], plugins)
    lock = RunLock(run_dir)
    trainer, ended = None, "failed"
    try:
        if info.is_main:
            _take_lock(lock)
        checkpoint = _starting_point(run_dir, resolved, resume is not None, info.is_main)
        with resource_errors(training_memory_knobs(resolved)):
            try:
                trainer = Trainer(resolved, run_dir, plugins, torch_device, resume_from=checkpoint,
                                  show_progress=not quiet)
                if info.is_main:
                    write_recipe(resolved, create_run_dir(run_dir))
                    if checkpoint is not None:
                        click.echo(f"resuming {run_dir} from {checkpoint.name} (step {trainer.step} of "
                                   f"{trainer.total_steps})", err=True)
                dist.barrier(info)
                status = trainer.fit()
            finally:
                dist.shutdown()
            if info.is_main:
                click.echo(f"{status}: step {trainer.step}/{trainer.total_steps}, run directory {run_dir}", err=True)
                if status == "interrupted":
                    click.echo(f"continue with: i2i run --resume {run_dir}", err=True)
                else:
                    _finish(resolved, run_dir, torch_device, quiet)
            ended = status
    except KeyboardInterrupt:
        ended = "interrupted"
        raise
    finally:
        if trainer is not None:  # event on_run_end: after the final evaluation and report, whatever the outcome
            trainer.events.emit("on_run_end", run_dir=str(run_dir), status=ended)
        lock.release()
    if status == "interrupted":
        raise SystemExit(130)


def _take_lock(lock) -> None:
    """Lock the run directory (refused while another run uses it); say when a killed run's
    lock is taken over."""
    lock.acquire()
    if lock.stale is not None:
        click.echo(f"{lock.folder}: taking over the lock left by {lock.stale.describe()}, which ended "
                   "without releasing it (killed?)", err=True)


def _starting_point(run_dir: Path, resolved, resuming: bool, is_main: bool) -> Path | None:
    """The checkpoint to continue from: on ``--resume`` the newest intact one (saying which
    newer ones are skipped and why). A run that stopped before its first checkpoint (resumed
    or run again into its folder) restarts from step 0, saying so; returns None then."""
    from i2i.engine.checkpoint import REQUIRED_FILES, newest_intact_checkpoint
    from i2i.engine.rundir import is_restartable, restart_run_dir

    checkpoint = None
    if resuming:
        required = REQUIRED_FILES + (("discriminator.safetensors",) if resolved.discriminator else ())
        checkpoint, skipped = newest_intact_checkpoint(run_dir / "checkpoints", required)
        for path, why in skipped if is_main else ():
            click.echo(f"skipping checkpoint {path.name}: {why}", err=True)
        if checkpoint is None and is_main:
            had = "no intact checkpoint" if skipped else "no checkpoint: it stopped before its first one"
            click.echo(f"{run_dir}: {had}; starting the run again from step 0", err=True)
            restart_run_dir(run_dir)
    elif is_main and is_restartable(run_dir):
        click.echo(f"{run_dir}: the run there stopped before its first checkpoint; starting it again from step 0",
                   err=True)
        restart_run_dir(run_dir)
    return checkpoint


def _finish(resolved, run_dir: Path, device, quiet: bool) -> None:
    """After a completed run: the held-out evaluation (``eval.json``) and ``report.html``."""
    from i2i.evaluation.evaluate import evaluate_run
    from i2i.report.page import write_report

    if resolved.train.final_eval:
        done = evaluate_run(run_dir, device, resolved.train.final_eval_images)
        if done is None:
            click.echo("no held-out split (data.test_fraction / data.val_fraction, or test/ val/ folders): "
                       "no final evaluation", err=True)
        else:
            from i2i.cli.eval_cmd import metric_gaps

            for note in metric_gaps(done[0].summary):
                click.secho(f"warning: {note}", fg="yellow", err=True)
        if done is not None and not quiet:
            result, json_path, _ = done
            model, base = result.summary["metrics"]["model"], result.summary["metrics"].get("input", {})
            shown = [name for name in ("psnr", "ssim", "mae") if name in model]
            line = ", ".join(f"{name} {_mean(model[name])}" + (f" (input {_mean(base[name])})" if name in base else "")
                             for name in shown)
            click.echo(f"evaluation on {result.summary['images']} {result.summary['split']} image(s): {line}; "
                       f"{json_path}", err=True)
    path = write_report(run_dir)
    if not quiet:
        click.echo(f"report: {path}", err=True)


def _mean(stats: dict) -> str:
    return "n/a" if stats.get("mean") is None else f"{stats['mean']:.4g}"


def _argv_without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        out.append(arg)
    return out


def _resume_dir(resume: str, out: str | None, recipe: str | None, overrides: list[str], plugins) -> Path:
    """The run directory to continue: the one given (by --resume DIR or --out DIR), or the
    newest run of the recipe."""
    if resume and out is not None and Path(out).resolve() != Path(resume).resolve():
        raise UsageError(f"--out {out} with --resume {resume}: a resumed run continues in its own directory; "
                         "drop --out, or give the run directory once")
    if resume or out is not None:
        path = Path(resume or out)
        if not (path / "recipe.toml").exists():
            raise UsageError(f"--resume {path}: not a run directory (no recipe.toml in it); start a run there "
                             f"with `i2i run RECIPE --out {path}`")
        return path
    if recipe is None:
        raise click.UsageError("--resume without DIR needs a RECIPE whose newest run to continue")
    from i2i.recipe import load_recipe

    base = Path(load_recipe(recipe, overrides, plugins).run.out.replace("{recipe}", Path(recipe).stem))
    candidates = [p for p in [base, *base.parent.glob(f"{base.name}-*")] if (p / "recipe.toml").exists()]
    if not candidates:
        raise UsageError(f"--resume: no run of {recipe} found under {base.parent} (looked for {base.name}[-N]/)")
    return max(candidates, key=lambda p: (p / "recipe.toml").stat().st_mtime)
