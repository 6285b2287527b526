"""Checkpoints: one folder per step, written atomically.

``checkpoints/step_00001000/`` holds ``generator.safetensors``, ``discriminator.safetensors``
(and ``generator_ema.safetensors`` when EMA is on), ``trainer.safetensors`` + ``trainer.json``
(optimizers, schedulers, scaler, step, RNG states). The folder is written under a
temporary name, every file is fsynced, then it is renamed into place: a kill at any
moment leaves either the complete folder or none. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from i2i import __version__
from i2i.engine.state import join_tensors, split_tensors
from i2i.errors import I2IError, UsageError

STEP_DIR = re.compile(r"^step_(\d{8,})$")
WEIGHTS_FORMAT = "i2i.weights.v1"


class CheckpointError(I2IError):
    """A checkpoint that cannot be read or does not fit the model."""


def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """Complete checkpoint folders under ``folder`` as ``(step, path)``, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = STEP_DIR.match(child.name)
        if match and child.is_dir() and (child / "trainer.json").exists():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint folder, if any."""
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class CheckpointWriter:
    """Writes checkpoint folders into ``folder`` and keeps the newest ``keep`` of them."""

    folder: Path
    keep: int = 3

    def write(self, step: int, weights: dict[str, dict[str, torch.Tensor]], weight_metadata: dict[str, dict[str, str]],
              trainer_state: dict[str, Any], protect: set[Path] | None = None) -> Path:
        """Write ``weights`` (``{"generator": state_dict, ...}``) and the trainer state for ``step``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.remove_partial()
        final = self.folder / step_dir_name(step)
        tmp = self.folder / f".tmp-{final.name}-{os.getpid()}"
        tmp.mkdir()
        for role, state_dict in weights.items():
            tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
            save_file(tensors, tmp / f"{role}.safetensors", metadata=weight_metadata.get(role, {}))
        tree, tensors = split_tensors(trainer_state)
        save_file(tensors, tmp / "trainer.safetensors", metadata={"format": "i2i.trainer.v1"})
        (tmp / "trainer.json").write_text(json.dumps({"format": "i2i.trainer.v1", "i2i_version": __version__,
                                                      "state": tree}))
        for child in tmp.iterdir():
            _fsync(child)
        _fsync(tmp)
        if final.exists():  # re-writing the same step (e.g. final save right after a periodic one)
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync(self.folder)
        self.rotate(protect or set())
        return final

    def remove_partial(self) -> None:
        """Delete temporary folders left by a killed run."""
        for child in self.folder.glob(".tmp-step_*"):
            shutil.rmtree(child, ignore_errors=True)

    def rotate(self, protect: set[Path]) -> None:
        """Keep the newest ``keep`` checkpoints plus the ``protect``-ed ones (e.g. the best)."""
        found = list_checkpoints(self.folder)
        for _, path in found[: max(0, len(found) - self.keep)]:
            if path not in protect:
                shutil.rmtree(path, ignore_errors=True)


def read_trainer_state(folder: Path) -> dict[str, Any]:
    """The trainer state saved in a checkpoint folder."""
    try:
        meta = json.loads((folder / "trainer.json").read_text())
        tensors = read_tensors(folder / "trainer.safetensors")
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder}: cannot read trainer state: {exc}") from None
    return join_tensors(meta["state"], tensors)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file: {exc}") from None


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata header of a safetensors file."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file: {exc}") from None


def load_weights(module: torch.nn.Module, path: Path) -> None:
    """Load a safetensors state dict into ``module``; a mismatch names the tensors."""
    state = read_tensors(path)
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing tensors: {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected tensors: {_few(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {_few(shapes)}")
        meta = read_metadata(path)
        made_by = f" (checkpoint made by component {meta['component']!r})" if "component" in meta else ""
        raise CheckpointError(f"{path}: does not fit the model{made_by}: " + "; ".join(parts))
    module.load_state_dict(state)


def _few(items: list[str], n: int = 5) -> str:
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from a checkpoint folder, a run directory (its newest checkpoint)
    or a ``*.safetensors`` file inside a checkpoint folder."""
    p = Path(path)
    if p.is_file() and p.suffix == ".safetensors":
        p = p.parent
    if (p / "trainer.json").exists():
        return p
    for folder in (p / "checkpoints", p):
        latest = latest_checkpoint(folder)
        if latest is not None:
            return latest
    if not p.exists():
        raise UsageError(f"{path}: no such checkpoint, run directory or file")
    raise UsageError(f"{path}: no checkpoint found (expected a run directory with checkpoints/step_*/ "
                     "or a checkpoint folder holding trainer.json)")
