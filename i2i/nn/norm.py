"""Normalisation layers by name, as pytorch-CycleGAN-and-pix2pix builds them."""

from __future__ import annotations

from typing import Literal

from torch import nn

NormName = Literal["batch", "instance", "group", "none"]


def norm_layer(name: NormName, channels: int) -> nn.Module:
    """The normalisation layer ``name`` for ``channels`` feature maps.

    ``batch``: BatchNorm2d with affine parameters and running statistics (reference);
    ``instance``: InstanceNorm2d without affine parameters or running statistics (reference);
    ``group``: GroupNorm with 32 groups (fewer when ``channels`` is not divisible by 32);
    ``none``: identity.
    """
    if name == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if name == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if name == "group":
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {name!r}; accepted: 'batch', 'instance', 'group', 'none'")


def conv_bias(name: NormName) -> bool:
    """Whether a convolution followed by this norm needs its own bias.

    The reference gives convolutions a bias only before instance norm (batch norm has its
    own shift). It also drops the bias with ``none``, which leaves the layer without any
    shift; i2i keeps the bias there (the only deliberate difference in parameter count).
    """
    return name in ("instance", "none")
