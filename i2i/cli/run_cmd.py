"""``i2i run``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from i2i.cli.options import set_option
from i2i.errors import UsageError


@click.command("run")
@click.argument("recipe", required=False, type=click.Path(dir_okay=False))
@set_option
@click.option("--out", help="Run directory (sets run.out).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Training device (sets run.device).")
@click.option("--resume", is_flag=False, flag_value="", default=None, metavar="[DIR]",
              help="Continue a run from its newest checkpoint: DIR, or without DIR the newest run of RECIPE.")
@click.option("--nproc", type=click.IntRange(min=1), default=1,
              help="Train with N processes on this machine (DistributedDataParallel through torchrun).")
@click.option("--quiet", is_flag=True, help="No progress display.")
def run(recipe: str | None, sets: tuple[str, ...], out: str | None, device: str | None, resume: str | None,
        nproc: int, quiet: bool) -> None:
    """Train the recipe's model into a run directory.

    \b
    The run directory receives recipe.toml (resolved), metrics.jsonl, samples/*.png and
    checkpoints/step_*/ (safetensors weights and the exact trainer state).
    Multi-node: torchrun --nnodes=2 --node_rank=R --rdzv_endpoint=HOST:PORT
                         --nproc_per_node=GPUS -m i2i run RECIPE ...
    """
    from i2i.engine import distributed as dist
    from i2i.engine.build import pick_device
    from i2i.engine.checkpoint import latest_checkpoint
    from i2i.engine.rundir import choose_run_dir, create_run_dir, write_recipe
    from i2i.engine.trainer import Trainer
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe

    if nproc > 1 and dist.env_world_size() == 1:
        raise SystemExit(dist.relaunch_with_torchrun(nproc, _argv_without_nproc(sys.argv[1:])))
    plugins = get_plugins()
    if resume is not None and resume.endswith(".toml") and Path(resume).is_file() and recipe is None:
        recipe, resume = resume, ""  # `i2i run --resume RECIPE` meant RECIPE --resume
    overrides = list(sets)
    if device:
        overrides.append(f"run.device={json.dumps(device)}")

    if resume is not None:
        run_dir = _resume_dir(resume, recipe, overrides, plugins)
        recipe_path = recipe or str(run_dir / "recipe.toml")
        resolved = load_recipe(recipe_path, [*overrides, f"run.out={json.dumps(str(run_dir))}"], plugins)
        checkpoint = latest_checkpoint(run_dir / "checkpoints")
        if checkpoint is None:
            raise UsageError(f"{run_dir}: no complete checkpoint to resume from (checkpoints/step_*/)")
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
        checkpoint = None
    if info.is_main:
        for plugin in plugins.errors():
            click.secho(f"warning: plugin {plugin.name!r}: {plugin.error}", fg="yellow", err=True)
    try:
        trainer = Trainer(resolved, run_dir, plugins, torch_device, resume_from=checkpoint, show_progress=not quiet)
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
    if status == "interrupted":
        raise SystemExit(130)


def _finish(resolved, run_dir: Path, device, quiet: bool) -> None:
    """After a completed run: the held-out evaluation (``eval.json``) and ``report.html``."""
    from i2i.evaluation.evaluate import evaluate_run
    from i2i.report.page import write_report

    if resolved.train.final_eval:
        done = evaluate_run(run_dir, device, resolved.train.final_eval_images)
        if done is None:
            click.echo("no held-out split (data.test_fraction / data.val_fraction, or test/ val/ folders): "
                       "no final evaluation", err=True)
        elif not quiet:
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


def _resume_dir(resume: str, recipe: str | None, overrides: list[str], plugins) -> Path:
    """The run directory to continue: the one given, or the newest run of the recipe."""
    if resume:
        path = Path(resume)
        if not (path / "recipe.toml").exists():
            raise UsageError(f"--resume {resume}: not a run directory (no recipe.toml in it)")
        return path
    if recipe is None:
        raise click.UsageError("--resume without DIR needs a RECIPE whose newest run to continue")
    from i2i.recipe import load_recipe

    base = Path(load_recipe(recipe, overrides, plugins).run.out.replace("{recipe}", Path(recipe).stem))
    candidates = [p for p in [base, *base.parent.glob(f"{base.name}-*")] if (p / "recipe.toml").exists()]
    if not candidates:
        raise UsageError(f"--resume: no run of {recipe} found under {base.parent} (looked for {base.name}[-N]/)")
    return max(candidates, key=lambda p: (p / "recipe.toml").stat().st_mtime)
