"""Sample grids during training: one row per fixed image, ``input | output | target``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from i2i import atomic
from i2i.evaluation.measure import Prepare
from i2i.grids import grid_png
from i2i.nn.sizing import forward_any_size
from i2i.taskspec import TaskSpec


def write_samples(net: nn.Module, batches: Sequence[dict[str, Any]], prepare: Prepare, task: TaskSpec, path: Path,
                  rng_devices: Callable[[], list[int]]) -> Path:
    """``path`` (``samples/step_XXXXXXXX.png``): input | output | target rows of ``net`` on
    the fixed ``batches``; rows of different sizes go to ``path_<i>.png`` each. Training
    draws are untouched (the RNG is forked); ``net``'s mode is restored."""
    with torch.no_grad(), torch.random.fork_rng(devices=rng_devices()):
        was_training = net.training
        net.eval()
        rows = []
        for raw in batches:
            x, y = prepare(raw, False)
            rows.append(task.display(x, forward_any_size(net, x), y))
        net.train(was_training)
    if len({r[0].shape for r in rows}) == 1:
        return atomic.write_bytes(path, grid_png(*(torch.cat(parts) for parts in zip(*rows))))
    for i, row in enumerate(rows):
        atomic.write_bytes(path.with_name(f"{path.stem}_{i}.png"), grid_png(*row))
    return path
