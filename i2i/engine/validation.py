"""Validation: mean per-image metrics of the generator (and its EMA) on held-out pairs, and
of the input itself as the identity baseline when input and target share a space."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from i2i.nn.sizing import forward_any_size
from i2i.tasks import Task

Prepare = Callable[[dict[str, Any], bool], tuple[torch.Tensor, torch.Tensor]]


@torch.no_grad()
def validate(batches: Iterable[dict[str, Any]], prepare: Prepare, task: Task,
             generators: dict[str, nn.Module], with_baseline: bool = True) -> dict[str, float]:
    """Mean metrics over ``batches``: ``val_<metric>`` for ``generators["model"]``,
    ``val_<name>_<metric>`` for the others (e.g. ``val_ema_psnr``) and ``val_input_<metric>``
    for the baseline. Networks run in eval mode; their modes are restored."""
    modes = {name: net.training for name, net in generators.items()}
    sums: dict[str, torch.Tensor] = {}
    count = 0
    try:
        for net in generators.values():
            net.eval()
        for raw in batches:
            x, y = prepare(raw, False)
            results = {name: task.metrics(forward_any_size(net, x), y, x=x) for name, net in generators.items()}
            if with_baseline and task.input_comparable():
                results["input"] = task.metrics(task.baseline(x), y, x=x)
            for name, metrics in results.items():
                prefix = "val_" if name == "model" else f"val_{name}_"
                for key, values in metrics.items():
                    total = values.float().sum()
                    sums[prefix + key] = sums.get(prefix + key, 0) + total
            count += x.shape[0]
    finally:
        for name, net in generators.items():
            net.train(modes[name])
    if count == 0:
        return {}
    return {key: float(value) / count for key, value in sums.items()}
