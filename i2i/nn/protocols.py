"""What the engine reads of a generator and a discriminator, beyond being an ``nn.Module``:
the attributes a network component may set (each optional, with the default said), checked
when the component is built, and a generator's output, checked at its first call
(:func:`check_first_output`: a tensor of the input's batch and size with the task's
channels), so a third-party network that breaks the contract is named with its plugin."""

from __future__ import annotations

import weakref
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from i2i.devices import DTYPES
from i2i.errors import I2IError
from i2i.messages import warn


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


def unwrap(net: nn.Module) -> nn.Module:
    """The module inside DDP / DataParallel / ``torch.compile`` wrappers (``net`` itself if none)."""
    while True:
        if isinstance(net, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            net = net.module
        elif isinstance(getattr(net, "_orig_mod", None), nn.Module):  # torch.compile's OptimizedModule
            net = net._orig_mod
        else:
            return net


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


#: Generators built from a recipe whose first output is still to be checked: ``{net: (who, out_channels)}``.
_unchecked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def expect_output(net: object, who: str, out_channels: int) -> None:
    """Check the first output of generator ``net`` (``who``: ``generator 'x' (plugin 'y')``)."""
    _unchecked[net] = (who, out_channels)


def check_first_output(net: object, x: torch.Tensor, y: object) -> None:
    """At the first call of a generator registered with :func:`expect_output`: ``y`` must be a
    tensor ``(N, out_channels, H, W)`` for an input ``x`` of ``(N, C, H, W)``; later calls cost
    one dictionary lookup."""
    expected = _unchecked.pop(net, None) if _unchecked else None
    if expected is None:
        return
    who, channels = expected
    shape = tuple(x.shape[:1]) + (channels,) + tuple(x.shape[-2:])
    if not isinstance(y, torch.Tensor):
        raise I2IError(f"{who}: returned {type(y).__name__}, not a tensor; a generator maps (N, in_channels, H, W) "
                       f"to one tensor (N, out_channels, H, W), here {shape}")
    if tuple(y.shape) != shape:
        raise I2IError(f"{who}: returned shape {tuple(y.shape)} for input {tuple(x.shape)}; a generator returns "
                       f"(N, out_channels, H, W), here {shape} (sides it cannot take: set its size_divisor, and "
                       "i2i pads to it)")


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
