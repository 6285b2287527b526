"""Receptive field of a chain of convolutions."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn


def receptive_field(layers: Iterable[nn.Module]) -> int:
    """Receptive field in pixels of the convolutions and poolings in ``layers``, applied in order.

    ``rf = 1`` at the output and, going back through each layer,
    ``rf = (rf - 1) * stride + dilation * (kernel - 1) + 1``.
    """
    convs = [m for m in layers if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    rf = 1
    for m in reversed(convs):
        k = _first(m.kernel_size)
        s = _first(m.stride)
        d = _first(getattr(m, "dilation", 1))
        rf = (rf - 1) * s + d * (k - 1) + 1
    return rf


def _first(v: int | tuple[int, ...]) -> int:
    return v[0] if isinstance(v, tuple) else v
