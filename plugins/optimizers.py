"""Built-in optimisers: Adam (pix2pix's, betas (0.5, 0.999)) and AdamW.

Both are fused when the device supports it (on CPU 6x faster than the default per-tensor
loop for U-Net 256: see BENCHMARKS.md), else the multi-tensor (``foreach``) version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import torch
from annotated_types import Ge, Gt, Interval

from i2i import hookimpl

Rate = Annotated[float, Gt(0)]
Beta = Annotated[float, Interval(ge=0, lt=1)]


def _fused_or_foreach(cls: type[torch.optim.Optimizer], params: Iterable, **options) -> torch.optim.Optimizer:
    params = list(params)
    try:
        return cls(params, fused=True, **options)
    except (RuntimeError, ValueError):
        return cls(params, foreach=True, **options)


def adam(params: Iterable, lr: Rate = 2e-4, betas: tuple[Beta, Beta] = (0.5, 0.999),
         weight_decay: Annotated[float, Ge(0)] = 0.0) -> torch.optim.Optimizer:
    """Adam (L2 weight decay added to the gradient), fused where the device allows."""
    return _fused_or_foreach(torch.optim.Adam, params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)


def adamw(params: Iterable, lr: Rate = 2e-4, betas: tuple[Beta, Beta] = (0.5, 0.999),
          weight_decay: Annotated[float, Ge(0)] = 0.0) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay), fused where the device allows."""
    return _fused_or_foreach(torch.optim.AdamW, params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)


@hookimpl
def register_optimizers(register):
    """Register the built-in optimisers."""
    register("adam", adam)
    register("adamw", adamw)
