"""``i2i run``."""

from __future__ import annotations

import json
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
@click.option("--quiet", is_flag=True, help="No progress display.")
def run(recipe: str | None, sets: tuple[str, ...], out: str | None, device: str | None, resume: str | None,
        quiet: bool) -> None:
    """Train the recipe's model into a run directory.

    \b
    The run directory receives recipe.toml (resolved), metrics.jsonl, samples/*.png and
    checkpoints/step_*/ (safetensors weights and the exact trainer state).
    """
    from i2i.engine.build import pick_device
    from i2i.engine.checkpoint import latest_checkpoint
    from i2i.engine.rundir import choose_run_dir, create_run_dir, write_recipe
    from i2i.engine.trainer import Trainer
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe

    plugins = get_plugins()
    for info in plugins.errors():
        click.secho(f"warning: plugin {info.name!r}: {info.error}", fg="yellow", err=True)
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
    else:
        if recipe is None:
            raise click.UsageError("give a RECIPE, or --resume DIR to continue a run")
        if out:
            overrides.append(f"run.out={json.dumps(out)}")
        resolved = load_recipe(recipe, overrides, plugins)
        run_dir = choose_run_dir(resolved, explicit="{recipe}" not in resolved.run.out)
        resolved = load_recipe(recipe, [*overrides, f"run.out={json.dumps(str(run_dir))}"], plugins)
        checkpoint = None

    trainer = Trainer(resolved, run_dir, plugins, pick_device(resolved.run.device), resume_from=checkpoint,
                      show_progress=not quiet)
    write_recipe(resolved, create_run_dir(run_dir))
    if checkpoint is not None:
        click.echo(f"resuming {run_dir} from {checkpoint.name} (step {trainer.step} of {trainer.total_steps})", err=True)
    status = trainer.fit()
    click.echo(f"{status}: step {trainer.step}/{trainer.total_steps}, run directory {run_dir}", err=True)
    if status == "interrupted":
        raise SystemExit(130)


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
