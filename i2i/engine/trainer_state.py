"""A trainer's checkpoints: what goes into ``checkpoints/step_*/`` (weights with the metadata
that rebuilds each network, and everything that decides the next step: optimizers,
schedule, scalers, image pool, the RNG states of every rank, the best so far) and how a
resumed trainer reads it back, so ``--resume`` continues exactly."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from i2i import __version__
from i2i.engine import distributed as dist
from i2i.engine.checkpoint import latest_checkpoint, load_weights, read_trainer_state
from i2i.engine.init_from import init_metadata
from i2i.engine.provenance import component_provenance
from i2i.engine.schedule import resume_note
from i2i.engine.state import rng_state, set_rng_state
from i2i.errors import I2IError, UsageError
from i2i.finite import nonfinite_weights
from i2i.nn.sizing import unwrap

if TYPE_CHECKING:
    from i2i.engine.trainer import Trainer


class NonFiniteLossError(I2IError):
    """A loss, or the weights about to be saved, became NaN or infinite."""


def kept_checkpoint(run_dir: Path) -> str:
    """Which checkpoint a stopped run leaves as its newest good one."""
    last = latest_checkpoint(Path(run_dir) / "checkpoints")
    if last is None:
        return "No checkpoint was written before (the run restarts from step 0)"
    return f"The last good checkpoint, {last.name}, is kept in {last.parent}"


def weight_metadata(trainer: Trainer, role: str, component: str) -> dict[str, str]:
    """The metadata header of a weights file: enough to rebuild the network from it alone
    (the resolved recipe, the channels, each component's plugin distribution), and what the
    task takes its input to be (``acquisition``: CT sampling or dose) when it says."""
    recipe, task = trainer.recipe, trainer.task
    meta = {"format": "i2i.weights.v1", "role": role, "component": component, "i2i_version": __version__,
            "recipe_digest": recipe.digest(), "step": str(trainer.step),
            "in_channels": str(task.in_channels), "out_channels": str(task.out_channels),
            "recipe": json.dumps(recipe.as_dict()),
            "components": json.dumps(component_provenance(trainer.plugins, recipe)),
            **init_metadata(trainer.init_source)}  # fine-tuning: where the run started from
    if trainer.geometry is not None:
        meta["geometry"] = json.dumps(trainer.geometry)
    acquisition = task.acquisition(sorted(set((trainer.geometry or {}).get("size_px", []))))
    if acquisition is not None:  # what the input is (CT: "1/8 of full angular sampling (25 views at 128 px)")
        meta["acquisition"] = json.dumps(acquisition)
    return meta


def trainer_state(trainer: Trainer, rank_rngs: dict[str, list[torch.Tensor]]) -> dict[str, Any]:
    """Everything besides the weights that decides the next step."""
    state: dict[str, Any] = {
        "step": trainer.step, "total_steps": trainer.total_steps, "recipe_digest": trainer.recipe.digest(),
        "world_size": trainer.dist.world_size, "opt_g": trainer.opt_g.state_dict(), "rng": rng_state(),
        "rank_rngs": rank_rngs, "schedule": trainer.schedule.state_dict(),
        "scalers": trainer.gan_step.scaler_states(), "best": trainer.best,
    }
    if trainer.opt_d is not None:
        state["opt_d"] = trainer.opt_d.state_dict()
    if trainer.pool is not None:
        state["pool"] = trainer.pool.state_dict()
    return state


def save_checkpoint(trainer: Trainer) -> Path | None:
    """Write ``checkpoints/step_XXXXXXXX/`` (rank 0) and return it; other ranks return None.
    Weights holding NaN/inf are never saved: the run stops naming the checkpoint it keeps."""
    device = trainer.device
    rank_rngs = {"cpu": dist.gather_rng_states(trainer.dist, torch.get_rng_state(), device)}
    if device.type == "cuda":
        rank_rngs["cuda"] = dist.gather_rng_states(trainer.dist, torch.cuda.get_rng_state(device), device)
    if not trainer.dist.is_main:
        return None
    recipe = trainer.recipe
    component = {"generator": recipe.generator.name}
    weights = {"generator": unwrap(trainer.generator).state_dict()}
    if trainer.discriminator is not None:
        weights["discriminator"] = unwrap(trainer.discriminator).state_dict()
        component["discriminator"] = recipe.discriminator.name
    if trainer.ema is not None:
        weights["generator_ema"] = trainer.ema.module.state_dict()
        component["generator_ema"] = recipe.generator.name
    bad = nonfinite_weights(weights)
    if bad:
        counts = ", ".join(f"{role} {n}" for role, n in bad.items())
        raise NonFiniteLossError(f"step {trainer.step}: the weights hold NaN/infinite values ({counts}), so no "
                                 f"checkpoint was written. {kept_checkpoint(trainer.run_dir)}; lower the learning "
                                 "rate (optim.lr_g, optim.lr_d) or check train.ema_decay and the data")
    meta = {role: weight_metadata(trainer, role, name) for role, name in component.items()}
    protect = {trainer.run_dir / "checkpoints" / trainer.best["folder"]} if trainer.best else set()
    path = trainer.checkpoints.write(trainer.step, weights, meta, trainer_state(trainer, rank_rngs), protect)
    trainer.events.emit("on_checkpoint", trainer=trainer, step=trainer.step, path=str(path))
    return path


def load_checkpoint(trainer: Trainer, folder: Path) -> None:
    """Restore weights, optimizers, schedule, scalers, pool, RNG states and the step."""
    state = read_trainer_state(folder)
    if state.get("recipe_digest") != trainer.recipe.digest():
        raise UsageError(f"{folder}: this checkpoint was trained with a different recipe "
                         f"(digest {state.get('recipe_digest')} vs {trainer.recipe.digest()}); resume with the "
                         "run's own recipe.toml (only train.steps/epochs, logging and checkpoint intervals, "
                         "data.root/num_workers and [run] may change), or start a new run")
    if int(state.get("world_size", 1)) != trainer.dist.world_size:
        raise UsageError(f"{folder}: saved by {state.get('world_size')} process(es), resumed with "
                         f"{trainer.dist.world_size}; resume with the same number of processes")
    load_weights(unwrap(trainer.generator), folder / "generator.safetensors")
    if trainer.discriminator is not None:
        load_weights(unwrap(trainer.discriminator), folder / "discriminator.safetensors")
    if trainer.ema is not None:
        ema_file = folder / "generator_ema.safetensors"
        if ema_file.exists():
            load_weights(trainer.ema.module, ema_file)
        else:
            trainer.ema.copy_from(trainer.generator)
    trainer.opt_g.load_state_dict(state["opt_g"])
    if trainer.opt_d is not None:
        trainer.opt_d.load_state_dict(state["opt_d"])
    trainer.schedule.load_state_dict(state["schedule"])
    trainer.gan_step.load_scaler_states(state.get("scalers", {}))
    if trainer.pool is not None and "pool" in state:
        trainer.pool.load_state_dict(state["pool"], trainer.device)
    trainer.best = state.get("best")
    trainer.step = int(state["step"])
    note = resume_note(trainer.plugins, trainer.recipe.schedule, int(state.get("total_steps", trainer.total_steps)),
                       trainer.total_steps, trainer.step)
    if note and trainer.dist.is_main:
        print(f"i2i: {note}", file=sys.stderr, flush=True)
    set_rng_state(state["rng"])
    torch.set_rng_state(state["rank_rngs"]["cpu"][trainer.rank])
    if trainer.device.type == "cuda" and "cuda" in state["rank_rngs"]:
        torch.cuda.set_rng_state(state["rank_rngs"]["cuda"][trainer.rank], trainer.device)
    if trainer.dist.is_main:
        trainer.metrics.truncate_after(trainer.step)
