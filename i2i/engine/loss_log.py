"""The losses of the steps since the last log line: their means for ``metrics.jsonl`` (one
host sync per logging interval, not per step) and the check that stops a run on a NaN/inf
loss, naming the step and the term."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from i2i.engine import distributed as dist
from i2i.engine.checkpointer import NonFiniteLossError, kept_checkpoint


class LossLog:
    """Each step's detached loss values (and GAN health), kept until the next log line."""

    def __init__(self) -> None:
        self.pending: list[dict[str, torch.Tensor]] = []

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        self.pending.append(losses)

    def means(self) -> dict[str, float]:
        """The mean of each value over the pending steps (one sync), then a fresh interval."""
        if not self.pending:
            return {}
        keys = list(self.pending[0])
        values = torch.stack([torch.stack([p[k].float() for p in self.pending]).mean() for k in keys]).tolist()
        self.pending = []
        return dict(zip(keys, values))

    def check_finite(self, step: int, info: dist.DistInfo, device: torch.device, run_dir: Path) -> None:
        """Stop on a NaN/inf value on any rank, naming the first bad step (the pending ones
        end at ``step``) and term (one sync)."""
        message = None
        if self.pending:
            keys = list(self.pending[0])
            table = torch.stack([torch.stack([p[k].float() for k in keys]) for p in self.pending])
            finite = torch.isfinite(table)
            if not bool(finite.all()):
                row, col = (~finite).nonzero()[0].tolist()
                message = (f"loss {keys[col]} became {table[row, col].item()} at step "
                           f"{step - len(self.pending) + row + 1}")
        if dist.any_rank(message is not None, info, device):
            where = message or "a loss became non-finite on another process"
            raise NonFiniteLossError(f"{where}; training stopped. {kept_checkpoint(run_dir)}; lower the learning "
                                     "rate (optim.lr_g, optim.lr_d) or check the data, then resume or restart")


def log_row(step: int, steps_per_epoch: int, losses: dict[str, float], lr_g: float, lr_d: float | None,
            images_per_s: float, skipped_files: int) -> dict[str, Any]:
    """A ``metrics.jsonl`` row: the step, the epoch, the mean losses, learning rates, images
    per second and the count of skipped files."""
    row: dict[str, Any] = {"step": step, "epoch": round(step / steps_per_epoch, 4), **losses, "lr_g": lr_g}
    if lr_d is not None:
        row["lr_d"] = lr_d
    row["images_per_s"] = images_per_s
    if skipped_files:
        row["data_skipped"] = skipped_files
    return row
