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
    return _inside(torch.arange(height, device=device), torch.arange(width, device=device), height, width)


def fov_mask_of(image: torch.Tensor) -> torch.Tensor:
    """:func:`fov_mask` of ``image`` ``(..., H, W)``, on its device. Made from the image's own
    shape and device, so a traced graph (``i2i export``) holds no device constant: one traced
    on ``cuda:0`` runs on any device."""
    return _inside(_positions(image, -2), _positions(image, -1), image.shape[-2], image.shape[-1])


def _positions(image: torch.Tensor, dim: int) -> torch.Tensor:
    """``0 .. image.shape[dim] - 1`` (int64; ``dim`` is -2 or -1) on ``image``'s device, built
    from ``image`` (selections only: ONNX export mishandles negative transposes)."""
    line = image.select(-1 if dim == -2 else -2, 0)
    while line.ndim > 1:
        line = line.select(0, 0)
    return torch.ones_like(line, dtype=torch.long).cumsum(0) - 1


def _inside(rows: torch.Tensor, cols: torch.Tensor, height: int, width: int) -> torch.Tensor:
    side = (height + width + abs(height - width)) // 2  # max() without a branch: traced graphs keep it
    r = rows + ((side - height) // 2 - side // 2)  # positions in the centred square, from its centre
    c = cols + ((side - width) // 2 - side // 2)
    return r[:, None] ** 2 + c[None, :] ** 2 <= (side // 2) ** 2
