"""The metric suite shared by validation, sample statistics and ``i2i eval``: per image,
MAE (L1), PSNR, SSIM and MS-SSIM of the task's output images in data units
(``task.finalize_output(task.decode_output(...))``, what ``i2i predict`` writes; data range
``task.data_range``), then the task's own metrics
(``task.metrics``), whose values win for the names they share (a CT task measures PSNR
inside its HU window and the field of view, say)."""

from __future__ import annotations

import torch

from i2i import metrics as M
from i2i.tasks import Task

#: The metrics every task gets, computed on its output images in data units.
GENERIC_METRICS = ("mae", "psnr", "ssim", "ms_ssim")
#: Prefixes of validation metrics: the model, its EMA and the identity baseline.
VALIDATION_PREFIXES = ("val_", "val_ema_", "val_input_")


def metric_names(task: Task) -> tuple[str, ...]:
    """The per-image metrics :func:`image_metrics` gives for ``task``."""
    return tuple(dict.fromkeys((*GENERIC_METRICS, *task.extra_metrics)))


def validation_metric_names(task: Task, ema: bool = True) -> list[str]:
    """Every name a validation pass logs for ``task`` (``val_psnr``; ``val_ema_psnr`` with
    ``ema``; ``val_input_psnr`` where the task has an identity baseline), for checking
    ``train.best_metric`` and ``schedule.metric``."""
    prefixes = [p for p in VALIDATION_PREFIXES if (ema or p != "val_ema_")
                and (task.has_baseline or p != "val_input_")]
    return [prefix + name for prefix in prefixes for name in metric_names(task)]


def image_metrics(task: Task, x: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image metrics (each a float64 (N,) tensor) of a network-range ``output`` against
    ``target`` for network input ``x`` (see the module docstring)."""
    own = {k: v.double().reshape(-1) for k, v in task.metrics(x, output, target).items()}
    o = task.finalize_output(task.decode_output(x, output)).double()
    t = task.finalize_output(task.decode_output(x, target)).double()
    r = float(task.data_range)
    generic = {"mae": lambda: M.mae(o, t), "psnr": lambda: M.psnr(o, t, r), "ssim": lambda: M.ssim(o, t, r),
               "ms_ssim": lambda: M.ms_ssim(o, t, r)}
    return {**{name: compute() for name, compute in generic.items() if name not in own}, **own}
