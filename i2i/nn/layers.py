"""Small layer choices shared by the generators: output activation, upsampling, and the
output layer run in float32 under autocast."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import torch
from torch import nn

Activation = Literal["tanh", "none", "sigmoid"]
Upsample = Literal["transposed", "resize_conv"]


def output_activation(name: Activation) -> list[nn.Module]:
    """The layers after a generator's last convolution: ``[Tanh]``, ``[Sigmoid]`` or ``[]``."""
    layers = {"tanh": [nn.Tanh()], "sigmoid": [nn.Sigmoid()], "none": []}
    if name not in layers:
        raise ValueError(f"unknown activation {name!r}; accepted: 'tanh', 'none', 'sigmoid'")
    return layers[name]


def resize_conv(in_channels: int, out_channels: int, bias: bool) -> nn.Sequential:
    """2x nearest upsampling then a 3x3 convolution: the alternative to a transposed
    convolution that avoids checkerboard artifacts (Odena et al., Distill 2016)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=bias))


def in_fp32(layers: Iterable[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """``layers`` applied in turn to ``x`` in float32 with autocast off: a generator's output
    layer when its outputs are physical units (``fp32_output``; see
    :class:`i2i.nn.protocols.GeneratorSpec`). Without autocast (fp32 runs) this is the plain
    sequence of calls."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        x = x.float()
        for layer in layers:
            x = layer(x)
    return x
