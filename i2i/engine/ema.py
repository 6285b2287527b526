"""Exponential moving average of the generator's weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """``ema = decay * ema + (1 - decay) * weights`` after each generator step; buffers
    (batch-norm statistics) are copied. ``module`` is the averaged network, in eval mode."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_params = [p for p in self.module.parameters()]
        params = [p.detach() for p in model.parameters()]
        floating = [(e, p) for e, p in zip(ema_params, params) if e.dtype.is_floating_point]
        if floating:
            torch._foreach_lerp_([e for e, _ in floating], [p for _, p in floating], 1.0 - self.decay)
        for e, b in zip(self.module.buffers(), model.buffers()):
            e.copy_(b)

    @torch.no_grad()
    def copy_from(self, model: nn.Module) -> None:
        """Start the average at the current weights."""
        self.module.load_state_dict(model.state_dict())
