"""Checkpoints: one folder per step, written atomically.

``checkpoints/step_00001000/`` holds ``generator.safetensors``, ``discriminator.safetensors``
(and ``generator_ema.safetensors`` when EMA is on), ``trainer.safetensors`` + ``trainer.json``
(optimizers, schedulers, scaler, step, RNG states). The folder is written under a
private temporary name (``.tmp-step_00001000-PID-XXXXXXXX``, made by ``mkdtemp``), every file
is written through :mod:`i2i.atomic` and fsynced, then the folder is renamed into
place: a kill at any moment leaves either the complete folder or none. A failed write
(a full disk) removes its temporary folder; temporary folders of dead writers are removed
by the next write. Files get the usual permissions (``0666`` less the umask). A resume
takes the newest *intact* checkpoint (:func:`newest_intact_checkpoint`). Nothing is ever
unpickled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from i2i import atomic
from i2i.errors import I2IError, UsageError
from i2i.resources import disk_full
from i2i.runs.lock import process_alive
from i2i.runs.tensor_tree import join_tensors, split_tensors
from i2i.version import __version__

STEP_DIR = re.compile(r"^step_(\d{8,})$")
TMP_DIR = re.compile(r"^\.tmp-step_\d{8,}-(\d+)(?:-\w+)?$")
#: Weights files every checkpoint has (besides ``trainer.json``).
REQUIRED_FILES = ("generator.safetensors", "trainer.safetensors")
#: Fields of the trainer state a resume reads: a ``trainer.json`` without them is damaged.
TRAINER_FIELDS = ("step", "recipe_digest", "opt_g", "schedule", "rng", "rank_rngs")
#: Prefix a checkpoint folder found damaged on resume is renamed with (kept, out of the way).
DAMAGED_PREFIX = "damaged-"
WEIGHTS_FORMAT = "i2i.weights.v1"


class CheckpointError(I2IError):
    """A checkpoint that cannot be read or does not fit the model."""


class DiskFullError(I2IError):
    """No space left while writing a checkpoint (its temporary folder is removed)."""


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


def checkpoint_problem(folder: Path, required: tuple[str, ...] = REQUIRED_FILES) -> str | None:
    """Why checkpoint ``folder`` cannot be resumed from (a missing, truncated or unreadable
    file), or None when it is intact. Reads the file headers, not the tensors."""
    if not (folder / "trainer.json").is_file():
        return "trainer.json is missing (no trainer state)"
    try:
        state = json.loads((folder / "trainer.json").read_text())["state"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"trainer.json is unreadable ({type(exc).__name__}: {exc})"
    missing = [name for name in TRAINER_FIELDS if name not in state] if isinstance(state, dict) else TRAINER_FIELDS
    if missing:
        return f"trainer.json lacks the trainer state's {', '.join(missing)}"
    match = STEP_DIR.match(folder.name)
    if match and state["step"] != int(match.group(1)):
        return f"trainer.json is of step {state['step']!r}, not of step {int(match.group(1))}"
    for name in required:
        if not (folder / name).is_file():
            return f"{name} is missing"
    for path in sorted(folder.glob("*.safetensors")):
        try:
            read_metadata(path)
        except CheckpointError as exc:
            return f"{path.name}: {str(exc).removeprefix(f'{path}: ')}"
    return None


def newest_intact_checkpoint(folder: Path, required: tuple[str, ...] = REQUIRED_FILES
                             ) -> tuple[Path | None, list[tuple[Path, str]]]:
    """``(checkpoint, skipped)``: the newest intact checkpoint folder under ``folder`` (or
    None) and the newer ``step_*`` folders passed over, each with the reason."""
    steps = sorted((int(m.group(1)), child) for child in (folder.iterdir() if folder.is_dir() else [])
                   if (m := STEP_DIR.match(child.name)) and child.is_dir())
    skipped: list[tuple[Path, str]] = []
    for _, path in reversed(steps):
        problem = checkpoint_problem(path, required)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped


def set_aside(folder: Path) -> Path:
    """Rename a damaged checkpoint folder to ``damaged-step_...`` beside it (kept for a look,
    never resumed from, rotated or evaluated); returns the new path."""
    target, n = folder.with_name(DAMAGED_PREFIX + folder.name), 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{DAMAGED_PREFIX}{folder.name}-{n}")
    os.replace(folder, target)
    return target


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
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-{os.getpid()}-", dir=self.folder))
        os.chmod(tmp, 0o777 & ~atomic.current_umask())
        try:
            self._write_files(tmp, weights, weight_metadata, trainer_state)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if disk_full(exc):
                raise DiskFullError(self._disk_full_message(final, weights, trainer_state)) from None
            raise
        if final.is_symlink():  # a planted link is removed, never followed
            final.unlink()
        elif final.exists():  # re-writing the same step (e.g. final save right after a periodic one)
            shutil.rmtree(final)
        os.replace(tmp, final)
        atomic.fsync(self.folder)
        self.rotate(protect or set())
        return final

    @staticmethod
    def _write_files(tmp: Path, weights: dict[str, dict[str, torch.Tensor]],
                     weight_metadata: dict[str, dict[str, str]], trainer_state: dict[str, Any]) -> None:
        for role, state_dict in weights.items():
            tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
            save_safetensors(tensors, tmp / f"{role}.safetensors", weight_metadata.get(role, {}))
        tree, tensors = split_tensors(trainer_state)
        save_safetensors(tensors, tmp / "trainer.safetensors", {"format": "i2i.trainer.v1"})
        atomic.write_text(tmp / "trainer.json", json.dumps({"format": "i2i.trainer.v1", "i2i_version": __version__,
                                                             "state": tree}), durable=True)
        atomic.fsync(tmp)

    def _disk_full_message(self, final: Path, weights: dict[str, dict[str, torch.Tensor]],
                           trainer_state: dict[str, Any]) -> str:
        need = sum(t.numel() * t.element_size() for sd in weights.values() for t in sd.values())
        need += sum(t.numel() * t.element_size() for t in split_tensors(trainer_state)[1].values())
        free = shutil.disk_usage(self.folder).free
        return (f"no space left on the device while writing checkpoint {final.name} into {self.folder} "
                f"(a checkpoint needs about {need / 2**20:.0f} MiB, {free / 2**20:.0f} MiB are free); the "
                f"partial checkpoint was removed. Free space there, or keep fewer checkpoints "
                f"(train.keep_checkpoints = {self.keep}), then continue with `i2i run --resume "
                f"{self.folder.parent}`")

    def remove_partial(self) -> None:
        """Delete temporary folders left by this process or by writers that are no longer
        running (a killed run); another live writer's folder is left alone."""
        for child in self.folder.glob(".tmp-step_*"):
            match = TMP_DIR.match(child.name)
            pid = int(match.group(1)) if match else None
            if pid is None or pid == os.getpid() or not process_alive(pid):
                shutil.rmtree(child, ignore_errors=True)

    def rotate(self, protect: set[Path]) -> None:
        """Keep the newest ``keep`` checkpoints plus the ``protect``-ed ones (e.g. the best)."""
        found = list_checkpoints(self.folder)
        for _, path in found[: max(0, len(found) - self.keep)]:
            if path not in protect:
                shutil.rmtree(path, ignore_errors=True)


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """A safetensors file written atomically (:mod:`i2i.atomic`) with the permissions of any
    new file; serialised in memory, so a full disk is an ``OSError`` (ENOSPC) like any
    other write and leaves no partial file."""
    atomic.write_bytes(path, safetensors_bytes(tensors, metadata=metadata), durable=True)


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
