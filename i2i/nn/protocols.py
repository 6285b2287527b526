"""What the engine reads of a generator and a discriminator, beyond being an ``nn.Module``:
the attributes a network component may set (each optional, with the default said), checked
when the component is built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from i2i.devices import DTYPES
from i2i.messages import warn
from i2i.nn.sizing import unwrap

if TYPE_CHECKING:
    import torch


@runtime_checkable
class GeneratorSpec(Protocol):
    """A generator maps ``(N, in_channels, H, W)`` to ``(N, out_channels, H, W)``.

    ``size_divisor`` (an int >= 1; default 1): input sides must be multiples of it; i2i pads
    any input to it and crops the output back, so any ``H x W`` works.

    ``fp32_output`` (a settable bool, optional): when i2i sets it true, the generator runs its
    output layer (last convolution and activation) in float32 with autocast off
    (:func:`i2i.nn.layers.in_fp32`). i2i does so under bf16/fp16 autocast for tasks whose
    outputs are physical units (CT in HU: bf16 rounds those to steps of 1-16 HU); a
    generator without it is warned about then."""

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


def fp32_output_layer(generator: object, task: Any, precision: str) -> bool:
    """Under autocast (``precision`` bf16 or fp16), a task whose outputs are physical units
    (``task.fp32_output``) has its generator's output layer run in float32: the generator's
    ``fp32_output`` switch is set (and cleared otherwise). Returns whether the output layer
    runs in float32; warns when it should but the generator has no switch."""
    wanted = DTYPES[precision] is not None and bool(getattr(task, "fp32_output", False))
    net = unwrap(generator)
    if hasattr(net, "fp32_output"):
        net.fp32_output = wanted
        return wanted
    if wanted:
        warn(f"{type(net).__name__} has no fp32_output switch, so under {precision} its output layer rounds "
             f"outputs in {getattr(task, 'output_units', 'physical units')} to {precision} steps (1-16 HU at CT "
             "values); use precision \"fp32\", or give the generator an fp32_output attribute (CONTRIBUTING.md)")
    return False
