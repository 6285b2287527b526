"""The :class:`Volume` that the DICOM, NIfTI and NPY readers return."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch


@dataclass
class Volume:
    """A CT volume in Hounsfield units and what is needed to write results back.

    ``hu``: float32 array. DICOM and NPY: ``(D, H, W)`` = (slice, row, column), slices in
    order along the slice normal. NIfTI: the file's voxel order ``(I, J, K)`` exactly as
    nibabel's ``get_fdata`` gives it (axial slices are usually along ``K``).
    ``spacing``: mm between samples along each axis of ``hu``.
    ``slice_axis``: the axis that :meth:`slices` iterates by default (0 for DICOM/NPY, 2 for NIfTI).
    ``affine``: 4x4 from array indices to patient mm; DICOM: LPS (DICOM's patient
    coordinates) for index order (slice, row, column); NIfTI: the image's affine (RAS+).
    ``datasets``: DICOM only, one pydicom Dataset per slice in ``hu`` order with the pixel
    data removed (headers for :func:`i2i.medical.dicom.write_dicom_slices`); a multi-frame
    file gives a single Dataset. ``header``: NIfTI only, the nibabel header.
    ``paths``: the source files (DICOM: in slice order).
    """

    hu: np.ndarray
    spacing: tuple[float, float, float]
    paths: list[Path]
    kind: Literal["dicom", "nifti", "npy"]
    slice_axis: int = 0
    affine: np.ndarray | None = None
    datasets: list[Any] | None = None
    header: Any = None
    positions: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of :attr:`hu`."""
        return tuple(self.hu.shape)

    def slices(self, axis: int | None = None) -> np.ndarray:
        """``hu`` with ``axis`` (default :attr:`slice_axis`) moved first: ``(n, a, b)`` 2-D slices
        (a view, no copy)."""
        return np.moveaxis(self.hu, self.slice_axis if axis is None else axis, 0)

    def slice(self, index: int, axis: int | None = None) -> np.ndarray:
        """The 2-D slice ``index`` along ``axis`` (default :attr:`slice_axis`)."""
        return self.slices(axis)[index]

    def tensor(self, axis: int | None = None) -> torch.Tensor:
        """The slices as a float32 tensor ``(n, 1, a, b)`` sharing memory where possible."""
        return torch.from_numpy(np.ascontiguousarray(self.slices(axis))).unsqueeze(1)
