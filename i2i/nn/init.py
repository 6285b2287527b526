"""Weight initialisation as in pytorch-CycleGAN-and-pix2pix's ``init_weights``."""

from __future__ import annotations

from typing import Literal

from torch import nn

InitName = Literal["normal", "xavier", "kaiming", "orthogonal"]


def init_weights(net: nn.Module, init: InitName = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights with ``init`` (scaled by ``gain``) and zero biases;
    batch-norm weights ~ N(1, gain), biases 0. Returns ``net``."""

    def init_module(m: nn.Module) -> None:
        name = type(m).__name__
        weight = getattr(m, "weight", None)
        if isinstance(weight, nn.Parameter) and ("Conv" in name or "Linear" in name):
            if init == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif init == "xavier":
                nn.init.xavier_normal_(weight, gain=gain)
            elif init == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            elif init == "orthogonal":
                nn.init.orthogonal_(weight, gain=gain)
            else:
                raise ValueError(f"unknown init {init!r}; accepted: 'normal', 'xavier', 'kaiming', 'orthogonal'")
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif "BatchNorm2d" in name and isinstance(weight, nn.Parameter):
            nn.init.normal_(weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    net.apply(init_module)
    return net
