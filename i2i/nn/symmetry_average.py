"""Test-time augmentation (``augment.test_time``): in eval mode a generator returns the mean of
its outputs on the input and on the input's mirror images and quarter turns, each turned back.

The transforms are the group that the recipe's training augmentations generate (``augment.flip``:
left-right mirror, ``augment.vflip``: up-down, ``augment.rot90``: quarter turns; with a quarter
turn and a mirror, all eight of the square's symmetries), so every one is an input the network
has learnt. It is a forward hook on the generator itself: the weights, their names in a
checkpoint, ``size_divisor`` and every caller (validation, ``i2i eval``, ``i2i predict``, the
exported graphs, which trace the hook) stay as they are, and train mode is untouched.
"""

from __future__ import annotations

import torch
from torch import nn

#: A transform of the square: ``(k, mirror)`` is a turn by ``k`` quarter turns
#: (``torch.rot90``), then a left-right mirror when ``mirror``.
Transform = tuple[int, bool]

IDENTITY: Transform = (0, False)


def symmetries(flip: bool, vflip: bool, rot90: bool) -> tuple[Transform, ...]:
    """The non-identity transforms of the group the enabled augmentations generate, in a fixed
    order (an up-down mirror is a half turn and a left-right mirror: ``(2, True)``)."""
    if rot90:
        return tuple((k, m) for m in (False, True) for k in range(4)
                     if (k, m) != IDENTITY and (flip or vflip or not m))
    group = []
    if flip:
        group.append((0, True))
    if vflip:
        group.append((2, True))
    if flip and vflip:
        group.append((2, False))
    return tuple(group)


def turn(x: torch.Tensor, k: int) -> torch.Tensor:
    """``torch.rot90(x, k, (-2, -1))`` made of transposes and flips (ONNX has no rot90)."""
    k %= 4
    if k == 1:
        return x.flip(-1).transpose(-2, -1)
    if k == 2:
        return x.flip(-2, -1)
    if k == 3:
        return x.transpose(-2, -1).flip(-1)
    return x


def apply(x: torch.Tensor, transform: Transform) -> torch.Tensor:
    """``x`` (..., H, W) turned ``k`` quarter turns, then mirrored left-right if asked."""
    k, mirror = transform
    x = turn(x, k)
    return x.flip(-1) if mirror else x


def undo(y: torch.Tensor, transform: Transform) -> torch.Tensor:
    """The inverse of :func:`apply`: ``undo(apply(x, t), t) == x``."""
    k, mirror = transform
    return turn(y.flip(-1) if mirror else y, -k)


class SymmetryAverage:
    """A forward hook: in eval mode, the output becomes the mean over the input and its
    ``transforms`` (each output transformed back). In train mode it does nothing."""

    def __init__(self, transforms: tuple[Transform, ...]):
        if not transforms:
            raise ValueError("test-time augmentation needs at least one transform besides the identity")
        self.transforms = tuple((int(k) % 4, bool(m)) for k, m in transforms)
        self._inside = False

    def __call__(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if module.training or self._inside:
            return None
        x = args[0]
        self._inside = True  # the extra passes below go through this hook too
        try:
            total = output.clone()
            for t in self.transforms:
                total += undo(module(apply(x, t)), t)
        finally:
            self._inside = False
        return total / (len(self.transforms) + 1)


def add_symmetry_average(net: nn.Module, transforms: tuple[Transform, ...]) -> nn.Module:
    """Make ``net`` average over ``transforms`` in eval mode (see :class:`SymmetryAverage`)."""
    if transforms:
        net.register_forward_hook(SymmetryAverage(transforms))
    return net


def averaged_symmetries(net: nn.Module) -> tuple[Transform, ...]:
    """The transforms ``net`` averages over in eval mode besides the identity (empty when none)."""
    for hook in net._forward_hooks.values():
        if isinstance(hook, SymmetryAverage):
            return hook.transforms
    return ()


def averaging_description(net: nn.Module) -> str | None:
    """One phrase saying how ``net``'s eval-mode output is made, or ``None`` for one pass."""
    transforms = averaged_symmetries(net)
    if not transforms:
        return None
    n = len(transforms)
    return (f"the mean of {n + 1} passes: the input and its {n} flips and turns that training used, each output "
            "turned back (augment.test_time)")
