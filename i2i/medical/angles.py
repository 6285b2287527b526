"""Projection angles of the parallel-beam projector (:mod:`i2i.medical.projector`): equally
spaced sets, per-sample sets with a validity mask, the forms a caller may give them in, and
the key under which their sampling grids are kept (made without reading a device value)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

Angles = int | Sequence[float] | torch.Tensor | None


def equal_angles(views: int, *, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``views`` angles in degrees equally spaced over ``[0, 180)``: ``k * 180 / views``."""
    if int(views) < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    return shared_equal_angles(int(views), torch.device(device or "cpu"), dtype).clone()


@lru_cache(maxsize=64)
def shared_equal_angles(views: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """:func:`equal_angles` made once per device and shared (read-only: the projector's own
    use, so that an angle set is not copied to a GPU at every projection)."""
    return (torch.arange(views, dtype=torch.float64) * (180.0 / views)).to(device=device, dtype=dtype)


def per_sample_angles(views: Sequence[int] | torch.Tensor, *, device: torch.device | str | None = None,
                      dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Angles ``(N, Vmax)`` and validity mask ``(N, Vmax)`` for per-sample view counts ``views``
    ``(N,)``: sample ``n`` gets ``views[n]`` angles equally spaced over ``[0, 180)``; the
    remaining slots hold angle 0 and are masked out."""
    counts = torch.as_tensor(views).long().reshape(-1).cpu()  # a few ints; float64 maths on the CPU
    if counts.numel() == 0 or bool((counts < 1).any()):
        raise ValueError(f"every view count must be >= 1, got {counts.tolist()}")
    k = torch.arange(int(counts.max()))
    mask = k[None, :] < counts[:, None]
    angles = k[None, :].double() * (180.0 / counts[:, None].double())
    angles = angles.where(mask, torch.zeros((), dtype=torch.float64))
    return angles.to(device=device, dtype=dtype), mask.to(device)


def angle_key(angles: Angles) -> tuple | None:
    """What identifies an angle set for the grid cache without reading a device value: a view
    count (equally spaced angles) or a sequence of numbers; ``None`` (grids not kept) for a
    tensor, whose reading would be a host synchronisation on a GPU (name it with ``angles_id``)."""
    if angles is None or (isinstance(angles, int) and not isinstance(angles, bool)):
        return ("equal", 180 if angles is None else int(angles))
    if isinstance(angles, torch.Tensor):
        return None
    return ("angles", tuple(float(a) for a in angles))


def resolve_angles(angles: Angles, n: int, default_views: int, device: torch.device, dtype: torch.dtype,
                   mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Angles as ``(V,)`` (shared) or ``(N, V)`` degrees, and the mask as ``(N, V)`` or None."""
    if angles is None:
        theta = shared_equal_angles(int(default_views), torch.device(device), dtype)
    elif isinstance(angles, int) and not isinstance(angles, bool):
        theta = equal_angles(angles, device=device, dtype=dtype) if angles < 1 else \
            shared_equal_angles(angles, torch.device(device), dtype)
    else:
        theta = torch.as_tensor(angles, device=device).to(dtype)
        if theta.ndim not in (1, 2) or (theta.ndim == 2 and theta.shape[0] != n) or theta.shape[-1] == 0:
            raise ValueError(f"angles must be (V,) or (N, V) with N = {n}, got shape {tuple(theta.shape)}")
    if mask is None:
        return theta, None
    valid = torch.as_tensor(mask, device=device).bool()
    if valid.shape[-1] != theta.shape[-1] or valid.ndim not in (1, 2) or (valid.ndim == 2 and valid.shape[0] != n):
        raise ValueError(f"mask must be (V,) or (N, V) matching angles {tuple(theta.shape)}, "
                         f"got shape {tuple(valid.shape)}")
    return theta, valid.expand(n, theta.shape[-1])
