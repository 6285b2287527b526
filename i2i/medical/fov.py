"""The field of view of a parallel-beam CT slice: the circle inscribed in the square slice
(what the projector can reconstruct), and its extension to non-square slices padded to a
centred square. Everything outside it is air in targets and predictions."""

from __future__ import annotations

import torch


def circle_mask(size: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """``(size, size)`` bool: True inside the reconstruction circle (radius ``size // 2``
    around pixel ``(size // 2, size // 2)``, skimage's convention)."""
    r = torch.arange(size, device=device) - size // 2
    return r[:, None] ** 2 + r[None, :] ** 2 <= (size // 2) ** 2


def fov_mask(height: int, width: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """``(height, width)`` bool: the reconstruction circle of the slice padded to a centred
    square (what the CT sources do with non-square slices); :func:`circle_mask` when square."""
    side = (height + width + abs(height - width)) // 2  # max() without a branch: traced graphs keep it
    top, left = (side - height) // 2, (side - width) // 2
    return circle_mask(side, device=device)[top:top + height, left:left + width]
