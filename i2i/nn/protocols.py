"""What the engine reads of a generator and a discriminator, beyond being an ``nn.Module``:
the attributes a network component may set (each optional, with the default said), checked
when the component is built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@runtime_checkable
class GeneratorSpec(Protocol):
    """A generator maps ``(N, in_channels, H, W)`` to ``(N, out_channels, H, W)``.

    ``size_divisor`` (an int >= 1; default 1): input sides must be multiples of it; i2i pads
    any input to it and crops the output back, so any ``H x W`` works."""

    size_divisor: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class DiscriminatorSpec(Protocol):
    """A discriminator takes ``(N, in_channels, H, W)`` (input and output channels: every
    discriminator is conditional) and returns logits, or pix2pixHD's list (one per scale) of
    lists of feature maps ending with that scale's logits.

    ``receptive_field`` (pixels, or None when unknown; default None) and ``num_scales`` (an
    int >= 1; default 1) are shown by ``i2i summary`` and the report."""

    receptive_field: int | None
    num_scales: int

    def __call__(self, x: torch.Tensor) -> object: ...


#: The attributes above with their defaults, as ``{role: {attribute: default}}``.
NETWORK_ATTRIBUTES = {"generator": {"size_divisor": 1}, "discriminator": {"receptive_field": None, "num_scales": 1}}


def attribute_problems(net: object, role: str) -> list[str]:
    """What is wrong with the attributes ``net`` (a ``role`` network) sets, if anything."""
    problems = []
    for name, default in NETWORK_ATTRIBUTES[role].items():
        value = getattr(net, name, default)
        if value is None and default is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{name} = {value!r} is not an int >= 1")
    return problems
