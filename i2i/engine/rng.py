"""The random number generators a training step draws from: seeding them, and capturing
and restoring their states (kept in checkpoints, so a resumed run draws what the
uninterrupted one would have)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    """Every random number generator a training step may draw from."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state(),
        "python": _python_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        # a checkpoint saved with more visible GPUs than now: the devices that exist get theirs
        for index, device_state in enumerate(list(state["cuda"])[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state, index)


def _numpy_state() -> list[Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]


def _python_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def restore_rngs(state: dict[str, Any], rank: int, device: torch.device) -> None:
    """Every generator as a checkpoint's trainer ``state`` left it, this ``rank``'s own CPU and
    CUDA streams included; a rank the checkpoint did not have (a resume with more processes)
    keeps its fresh seed."""
    set_rng_state(state["rng"])
    if rank < len(state["rank_rngs"]["cpu"]):
        torch.set_rng_state(state["rank_rngs"]["cpu"][rank])
        if device.type == "cuda" and rank < len(state["rank_rngs"].get("cuda", [])):
            torch.cuda.set_rng_state(state["rank_rngs"]["cuda"][rank], device)
