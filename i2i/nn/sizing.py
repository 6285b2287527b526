"""Any input size: pad to the multiple a network needs, run it, crop back."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import UsageError
from i2i.nn.protocols import check_first_output, unwrap

PadMode = Literal["reflect", "replicate", "zeros", "none"]


def nearest_valid_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    """The closest ``(H, W)`` whose sides are positive multiples of ``multiple``."""
    def nearest(n: int) -> int:
        return max(multiple, int(round(n / multiple)) * multiple)

    return nearest(height), nearest(width)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: PadMode = "reflect") -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad ``x`` (N, C, H, W) on all sides so H and W are multiples of ``multiple``.

    Returns the padded tensor and ``(top, bottom, left, right)``. ``reflect`` mirrors the
    image (repeatedly when the pad is larger than the image), ``replicate`` repeats the
    border, ``zeros`` pads with 0. ``none`` pads nothing and fails on a size that is not
    a multiple, naming the nearest valid size.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (0, 0, 0, 0)
    if mode == "none":
        nh, nw = nearest_valid_size(h, w, multiple)
        raise UsageError(f"input size {h}x{w} is not a multiple of {multiple}; nearest valid size: {nh}x{nw} "
                         "(or let i2i pad: pad mode 'reflect')")
    pads = (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)
    if mode == "zeros":
        return F.pad(x, (pads[2], pads[3], pads[0], pads[1])), pads
    if mode == "replicate":
        return F.pad(x, (pads[2], pads[3], pads[0], pads[1]), mode="replicate"), pads
    return _reflect_pad(x, pads), pads


def _reflect_pad(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    """Reflect padding of any size, each side on its own (:func:`reflect_indices`)."""
    top, bottom, left, right = pads
    x = x.index_select(-2, reflect_indices(x.shape[-2], top, bottom, x))
    return x.index_select(-1, reflect_indices(x.shape[-1], left, right, x))


def reflect_indices(n, before, after, like: torch.Tensor) -> torch.Tensor:
    """Indices into a side of ``n`` pixels padded with ``before`` and ``after`` mirrored pixels
    (no edge repeat, as ``F.pad(mode="reflect")``; mirrored again where a pad exceeds the side;
    a 1-pixel side repeats), on the device of ``like`` (a non-empty tensor). Torch operations
    on ``like`` only, so a traced graph (``i2i export``) computes them from the input's shape
    and holds no device constant: the one reflect padding of predict and exports."""
    ones = torch.ones_like(like.reshape(-1)[:1], dtype=torch.long)
    positions = ones.expand(n + before + after).cumsum(0) - (1 + before)
    period = (ones[0] * (2 * (n - 1))).clamp(min=1)  # a traced side stays traced
    folded = torch.remainder(positions, period)
    return torch.minimum(folded, period - folded)


def forward_any_size(net: nn.Module, x: torch.Tensor, mode: PadMode = "reflect", *,
                     one_at_a_time: bool = False) -> torch.Tensor:
    """``net(x)`` for any H x W: pads to ``net.size_divisor`` and crops the output back. With
    ``one_at_a_time``, each image gets its own forward pass (so batch statistics of a network
    in train mode are each image's own)."""
    if one_at_a_time and x.shape[0] > 1:
        return torch.cat([forward_any_size(net, x[i:i + 1], mode) for i in range(x.shape[0])])
    multiple = int(getattr(unwrap(net), "size_divisor", 1) or 1)
    padded, (top, bottom, left, right) = pad_to_multiple(x, multiple, mode) if multiple > 1 else (x, (0, 0, 0, 0))
    y = net(padded)
    check_first_output(unwrap(net), padded, y)
    if (top, bottom, left, right) == (0, 0, 0, 0):
        return y
    return y[..., top:y.shape[-2] - bottom, left:y.shape[-1] - right]
