"""Reading any CT volume by path: DICOM (file or series folder), NIfTI or NPY."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from i2i.data.imageio import DataError
from i2i.medical.dicom import read_dicom
from i2i.medical.nifti import is_nifti, read_nifti
from i2i.medical.volume import Volume


def read_volume(path: str | Path) -> Volume:
    """A folder -> DICOM series; ``.nii``/``.nii.gz`` -> NIfTI; ``.npy`` -> NPY; any other
    file -> DICOM. See :mod:`i2i.medical.dicom`, :mod:`i2i.medical.nifti`, :func:`read_npy`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_dicom(path)
    if is_nifti(path):
        return read_nifti(path)
    if path.suffix.lower() == ".npy":
        return read_npy(path)
    return read_dicom(path)


def read_npy(path: str | Path, *, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Volume:
    """An ``.npy`` array of HU: a slice ``(H, W)`` (read as ``(1, H, W)``) or a volume
    ``(D, H, W)``, as float32. Pickled arrays are refused."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:
        raise DataError(f"{path}: unreadable NPY file: {type(exc).__name__}: {exc}") from None
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise DataError(f"{path}: expected an HU slice (H, W) or volume (D, H, W), got shape {array.shape}")
    if 0 in array.shape:
        raise DataError(f"{path}: the array has an empty axis (shape {array.shape}): no voxels to read")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise DataError(f"{path}: expected a numeric array, got dtype {array.dtype}")
    return Volume(hu=np.ascontiguousarray(array, dtype=np.float32), spacing=tuple(map(float, spacing)),
                  paths=[path], kind="npy")
