"""Two CT series of one patient paired slice by slice, by position: a low-dose and a
full-dose series, or a sparse-view and a full reconstruction of one scan.

Slices pair by their position along the slice normal (ImagePositionPatient): each slice of
the target series takes the input slice nearest to it, when that lies within a tolerance
(:func:`pair_positions`; by default half the finer slice spacing). The two series must share
a frame of reference and an orientation; a pair's two slices must lie on one pixel grid
(:class:`Grid`: the same pixel spacing, size and in-plane origin), or the input is
resampled onto the target's grid (:func:`onto_grid`, bilinear) when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from i2i.medical.dicom_geometry import numbers, pixel_spacing

#: Two grids are one when their origins and spacings agree to this fraction of a pixel.
GRID_TOLERANCE = 0.01


@dataclass(frozen=True)
class Grid:
    """The pixel grid of a slice in patient mm (LPS): pixel ``(r, c)`` lies at ``origin +
    c * spacing[1] * row_dir + r * spacing[0] * col_dir`` (DICOM's ImagePositionPatient,
    ImageOrientationPatient and PixelSpacing), ``size`` (rows, columns)."""

    origin: np.ndarray
    row_dir: np.ndarray
    col_dir: np.ndarray
    spacing: tuple[float, float]
    size: tuple[int, int]

    @classmethod
    def of(cls, ds) -> Grid | None:
        """The grid of a DICOM header, or None without position, orientation or spacing."""
        ipp, iop = numbers(ds.get("ImagePositionPatient")), numbers(ds.get("ImageOrientationPatient"))
        spacing = pixel_spacing(ds)
        if ipp is None or iop is None or len(ipp) != 3 or len(iop) != 6 or not all(np.isfinite(spacing)):
            return None
        return cls(np.asarray(ipp, float), np.asarray(iop[:3], float), np.asarray(iop[3:], float),
                   (float(spacing[0]), float(spacing[1])), (int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)))

    def describe(self) -> str:
        """``512 x 512 pixels of 0.7 x 0.7 mm``."""
        return f"{self.size[0]} x {self.size[1]} pixels of {self.spacing[0]:.4g} x {self.spacing[1]:.4g} mm"

    def oriented_like(self, other: Grid) -> bool:
        """Whether both grids have the same row and column directions."""
        return bool(np.allclose(self.row_dir, other.row_dir, atol=1e-3)
                    and np.allclose(self.col_dir, other.col_dir, atol=1e-3))

    def same_as(self, other: Grid) -> bool:
        """One grid: same orientation, size, spacing and in-plane origin (to :data:`GRID_TOLERANCE` pixel)."""
        if not self.oriented_like(other) or self.size != other.size:
            return False
        step = np.asarray(self.spacing)
        if np.any(np.abs(step - np.asarray(other.spacing)) > GRID_TOLERANCE * step):
            return False
        shift = other.origin - self.origin
        in_plane = np.array([np.dot(shift, self.col_dir), np.dot(shift, self.row_dir)])
        return bool(np.all(np.abs(in_plane) <= GRID_TOLERANCE * step))


def pair_positions(target: Sequence[float], inputs: Sequence[float], tolerance: float) -> list[tuple[int, int]]:
    """``(target index, input index)`` for each target position whose nearest input position
    lies within ``tolerance`` mm (ties: the lower input index)."""
    if not len(inputs):
        return []
    given = np.asarray(inputs, dtype=float)
    pairs = []
    for i, z in enumerate(target):
        j = int(np.argmin(np.abs(given - float(z))))
        if abs(given[j] - float(z)) <= tolerance:
            pairs.append((i, j))
    return pairs


def onto_grid(image: np.ndarray, source: Grid, target: Grid, fill: float = -1000.0) -> np.ndarray:
    """``image`` (on ``source``'s grid, same orientation) resampled bilinearly onto ``target``'s
    grid; target pixels outside the source image get ``fill`` (air)."""
    rows, cols = np.mgrid[:target.size[0], :target.size[1]].astype(float)
    world = (target.origin[None, None] + cols[..., None] * target.spacing[1] * target.row_dir
             + rows[..., None] * target.spacing[0] * target.col_dir)
    shift = world - source.origin
    c = shift @ source.row_dir / source.spacing[1]
    r = shift @ source.col_dir / source.spacing[0]
    h, w = image.shape
    grid = np.stack([c / max(w - 1, 1) * 2 - 1, r / max(h - 1, 1) * 2 - 1], -1)
    values = torch.as_tensor(np.asarray(image, dtype=np.float32) - fill)[None, None]
    out = F.grid_sample(values, torch.as_tensor(grid, dtype=torch.float32)[None], mode="bilinear",
                        padding_mode="zeros", align_corners=True)
    return out[0, 0].numpy() + fill
