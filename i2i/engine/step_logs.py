"""The losses of the steps since the last log line: their means (one host sync per logging
interval, not per step) and the check that stops a run on a NaN/inf loss naming the step
and the term."""

from __future__ import annotations

from typing import Any

import torch

from i2i.engine import distributed as dist
from i2i.engine.trainer_state import NonFiniteLossError, kept_checkpoint


def summarise(trainer, pending: list[dict[str, torch.Tensor]], seconds: float, steps: int, lr_g: float,
              lr_d: float | None) -> dict[str, Any]:
    """A ``metrics.jsonl`` row: the mean of each loss over ``pending`` steps, learning rates,
    images per second (``steps`` over ``seconds``) and the count of skipped files."""
    keys = list(pending[0])
    means = torch.stack([torch.stack([p[k].float() for p in pending]).mean() for k in keys]).tolist()
    logs: dict[str, Any] = {"step": trainer.step, "epoch": round(trainer.step / trainer.steps_per_epoch, 4)}
    logs.update(zip(keys, means))
    logs["lr_g"] = lr_g
    if lr_d is not None:
        logs["lr_d"] = lr_d
    train = trainer.recipe.train
    logs["images_per_s"] = steps * train.batch_size * train.accumulate * trainer.dist.world_size / max(seconds, 1e-9)
    if trainer.skipped_files:
        logs["data_skipped"] = trainer.skipped_files
    return logs


def check_finite(trainer, pending: list[dict[str, torch.Tensor]]) -> None:
    """Stop on a NaN/inf loss on any rank, naming the first bad step and term (one sync)."""
    message = None
    if pending:
        keys = list(pending[0])
        table = torch.stack([torch.stack([p[k].float() for k in keys]) for p in pending])
        finite = torch.isfinite(table)
        if not bool(finite.all()):
            row, col = (~finite).nonzero()[0].tolist()
            message = f"loss {keys[col]} became {table[row, col].item()} at step {trainer.step - len(pending) + row + 1}"
    if dist.any_rank(message is not None, trainer.dist, trainer.device):
        where = message or "a loss became non-finite on another process"
        raise NonFiniteLossError(f"{where}; training stopped. {kept_checkpoint(trainer.run_dir)}; lower the learning "
                                 "rate (optim.lr_g, optim.lr_d) or check the data, then resume or restart")
