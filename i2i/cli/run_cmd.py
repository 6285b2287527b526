"""``i2i run``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from i2i.cli.options import loaded_plugins, set_option


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
    """Train the recipe's model into a run directory. RECIPE is a file or a shipped
    recipe's name (i2i recipes lists them): i2i run medical_ct.

    \b
    The run directory receives recipe.toml (resolved), metrics.jsonl, samples/*.png and
    checkpoints/step_*/ (safetensors weights and the exact trainer state).
    Multi-node: torchrun --nnodes=2 --node_rank=R --rdzv_endpoint=HOST:PORT
                         --nproc_per_node=GPUS -m i2i run RECIPE ...
    """
    from i2i.engine import distributed as dist
    from i2i.workflow.run import train

    if nproc > 1 and dist.env_world_size() == 1:
        raise SystemExit(dist.relaunch_with_torchrun(nproc, _argv_without_nproc(sys.argv[1:])))
    plugins = loaded_plugins(show_problems=dist.env_rank() == 0)
    if resume and recipe is None and _names_a_recipe(resume, plugins):
        recipe, resume = resume, ""  # `i2i run --resume RECIPE` meant RECIPE --resume
    result = train(recipe, sets, out=out, device=device, resume=resume, init_from=init_from, quiet=quiet,
                   plugins=plugins, say=lambda line: click.echo(line, err=True))
    if result.status == "interrupted":
        raise SystemExit(130)


def _names_a_recipe(arg: str, plugins) -> bool:
    """Whether ``--resume ARG`` names a recipe (a .toml file or a shipped recipe's name, not a
    run directory)."""
    from i2i.recipe.named import shipped_recipe

    if Path(arg).is_dir():
        return False
    return (arg.endswith(".toml") and Path(arg).is_file()) or shipped_recipe(arg, plugins) is not None


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
