"""Small layer choices shared by the generators: output activation and upsampling."""

from __future__ import annotations

from typing import Literal

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
