"""Writing a run's checkpoints and reading one back.

``save`` is called by every rank at the same steps: it gathers each rank's RNG state (a
collective), checks the weights are finite on every rank (so all ranks stop together), then
rank 0 writes ``checkpoints/step_XXXXXXXX/`` atomically (:class:`i2i.runs.checkpoint.CheckpointWriter`):
the weights with the metadata that rebuilds each network alone, and the trainer state that
decides the next step. ``read`` returns what a checkpoint holds; the trainer applies it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from i2i.assembly.init_from import InitSource, init_metadata
from i2i.engine import distributed as dist
from i2i.engine.rng import rng_state
from i2i.errors import I2IError, UsageError
from i2i.finite import nonfinite_weights
from i2i.messages import warn
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.runs.checkpoint import CheckpointWriter, latest_checkpoint, read_trainer_state
from i2i.runs.provenance import component_provenance
from i2i.version import __version__


class NonFiniteLossError(I2IError):
    """A loss, or the weights about to be saved, became NaN or infinite."""


def kept_checkpoint(run_dir: Path) -> str:
    """Which checkpoint a stopped run leaves as its newest good one."""
    last = latest_checkpoint(Path(run_dir) / "checkpoints")
    if last is None:
        return "No checkpoint was written before (the run restarts from step 0)"
    return f"The last good checkpoint, {last.name}, is kept in {last.parent}"


@dataclass(frozen=True)
class WeightsHeader:
    """What every weights file's metadata records besides its role: enough to rebuild the
    network from the file alone (the resolved recipe, the channels, each component's plugin
    distribution), where fine-tuning started from, the training samples' pixel sizes and what
    the task takes its input to be (``acquisition``: CT sampling or dose) when it says."""

    recipe: Recipe
    plugins: Plugins
    in_channels: int
    out_channels: int
    init_source: InitSource | None
    geometry: dict[str, Any] | None
    acquisition: dict[str, Any] | None = None

    def metadata(self, role: str, component: str, step: int) -> dict[str, str]:
        meta = {"format": "i2i.weights.v1", "role": role, "component": component, "i2i_version": __version__,
                "recipe_digest": self.recipe.digest(), "step": str(step),
                "in_channels": str(self.in_channels), "out_channels": str(self.out_channels),
                "recipe": json.dumps(self.recipe.as_dict()),
                "components": json.dumps(component_provenance(self.plugins, self.recipe)),
                **init_metadata(self.init_source)}
        if self.geometry is not None:
            meta["geometry"] = json.dumps(self.geometry)
        if self.acquisition is not None:  # CT: "1/8 of full angular sampling (25 views at 128 px)"
            meta["acquisition"] = json.dumps(self.acquisition)
        return meta


class Checkpointer:
    """Checkpoints of the run in ``run_dir`` (see the module doc)."""

    def __init__(self, run_dir: Path, keep: int, info: dist.DistInfo, device: torch.device, header: WeightsHeader):
        self.run_dir, self.info, self.device, self.header = Path(run_dir), info, device, header
        self.writer = CheckpointWriter(self.run_dir / "checkpoints", keep)

    def save(self, step: int, weights: dict[str, dict[str, torch.Tensor]], state: dict[str, Any],
             protect: str | None = None, fingerprint: torch.Tensor | None = None) -> Path | None:
        """Write the checkpoint of ``step``: ``weights`` by role and the trainer ``state``
        (this rank's RNG states are added); ``protect``: a checkpoint folder name rotation keeps
        (the best); ``fingerprint``: this rank's parameters and learning rate in a few numbers
        (:meth:`i2i.engine.parts.TrainingParts.fingerprint`), compared across ranks under DDP.
        Every rank calls it; rank 0 writes and returns the folder, the others None.
        Weights holding NaN/inf are never saved: every rank stops naming the checkpoint it keeps."""
        rank_rngs = {"cpu": dist.all_gather(self.info, torch.get_rng_state(), self.device)}
        if self.device.type == "cuda":
            rank_rngs["cuda"] = dist.all_gather(self.info, torch.cuda.get_rng_state(self.device), self.device)
        replicas = self._replicas(fingerprint)
        bad = nonfinite_weights(weights)
        if bad:
            counts = ", ".join(f"{role} {n}" for role, n in bad.items())
            raise NonFiniteLossError(f"step {step}: the weights hold NaN/infinite values ({counts}), so no "
                                     f"checkpoint was written. {kept_checkpoint(self.run_dir)}; lower the learning "
                                     "rate (optim.lr_g, optim.lr_d) or check train.ema_decay and the data")
        if not self.info.is_main:
            return None
        components = {"generator": self.header.recipe.generator.name, "generator_ema": self.header.recipe.generator.name}
        if self.header.recipe.discriminator is not None:
            components["discriminator"] = self.header.recipe.discriminator.name
        meta = {role: self.header.metadata(role, components[role], step) for role in weights}
        full_state = {**state, "world_size": self.info.world_size, "rng": rng_state(), "rank_rngs": rank_rngs}
        if self.info.enabled:
            full_state["replicas"] = replicas
        keep = {self.run_dir / "checkpoints" / protect} if protect else set()
        return self.writer.write(step, weights, meta, full_state, keep)

    def _replicas(self, fingerprint: torch.Tensor | None) -> list[list[float]]:
        """Under DDP, every rank's ``fingerprint`` (one all-gather): equal on all ranks unless the
        replicas drifted apart, which is said."""
        if not self.info.enabled or fingerprint is None:
            return []
        gathered = [row.tolist() for row in dist.all_gather(self.info, fingerprint.double(), self.device)]
        if self.info.is_main and any(row != gathered[0] for row in gathered):
            warn(f"the network replicas of the {self.info.world_size} processes differ (parameter sums, sums of "
                 f"squares and learning-rate factors by rank: {gathered}); distributed training has drifted")
        return gathered

    def read(self, folder: Path, recipe: Recipe) -> dict[str, Any]:
        """The trainer state of checkpoint ``folder``, refused when it was trained with another recipe."""
        state = read_trainer_state(folder)
        if state.get("recipe_digest") != recipe.digest():
            raise UsageError(f"{folder}: this checkpoint was trained with a different recipe "
                             f"(digest {state.get('recipe_digest')} vs {recipe.digest()}); resume with the "
                             "run's own recipe.toml (only train.steps/epochs, logging and checkpoint intervals, "
                             "data.root/num_workers and [run] may change), or start a new run")
        return state
