"""NIfTI CT volumes with nibabel (``.nii`` and ``.nii.gz``).

Values are float32 with nibabel's ``get_fdata`` semantics (``scl_slope``/``scl_inter``
applied); the voxel order and the affine are kept exactly as in the file (no
reorientation), so axial slices are usually along the third axis; pass
``canonical=True`` to reorient to RAS+ first (``nibabel.as_closest_canonical``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from i2i.data.imageio import DataError
from i2i.medical.volume import Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: str | Path) -> bool:
    """Whether ``path`` has a NIfTI suffix (``.nii`` or ``.nii.gz``)."""
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def read_nifti(path: str | Path, *, canonical: bool = False) -> Volume:
    """A NIfTI volume as a :class:`~i2i.medical.volume.Volume` (``hu`` in the file's voxel
    order, ``slice_axis`` 2, ``affine`` and ``header`` kept). The image must be 3-D, or 4-D
    with a single volume (``(I, J, K, 1)``)."""
    import nibabel as nib

    path = Path(path)
    try:
        img = nib.load(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:
        raise DataError(f"{path}: unreadable NIfTI file ({type(exc).__name__}: {exc}); it may be truncated or "
                        "corrupt: copy or export it again") from None
    shape = tuple(img.shape)
    if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 1)):
        raise DataError(f"{path}: expected a 3-D volume (or 4-D with one volume, shape (I, J, K, 1)), "
                        f"got a {len(shape)}-D image of shape {shape}")
    if 0 in shape:
        raise DataError(f"{path}: the volume has an empty axis (shape {shape}): no voxels to read; "
                        "export it again")
    _check_voxel_size(path, img)
    if len(shape) == 4:
        img = img.slicer[..., 0]
    if canonical:
        img = nib.as_closest_canonical(img)
    try:
        data = img.get_fdata(dtype=np.float32)
    except Exception as exc:
        raise DataError(f"{path}: cannot read the voxel data ({type(exc).__name__}: {exc}); the file is truncated "
                        "or corrupt: copy or export it again") from None
    spacing = tuple(float(z) for z in img.header.get_zooms()[:3])
    return Volume(hu=data, spacing=spacing, paths=[path], kind="nifti", slice_axis=2,
                  affine=np.asarray(img.affine, dtype=np.float64), header=img.header)


def _check_voxel_size(path: Path, img: Any) -> None:
    """The voxel size (pixdim 1-3) as stored must be positive and finite: nibabel reads 0 as
    1 mm and -1.5 as 1.5 mm, which would be taken as sizes."""
    from nibabel.openers import ImageOpener

    with ImageOpener(path) as f:
        stored = type(img.header).from_fileobj(f, check=False)["pixdim"][1:4]
    if not all(np.isfinite(stored)) or min(stored) <= 0:
        shown = " x ".join(f"{float(z):g}" for z in stored)
        raise DataError(f"{path}: pixdim (the voxel size) is {shown} mm: expected "
                        "three positive numbers; write the file again with its voxel size")


def write_nifti(volume: np.ndarray | torch.Tensor, affine: np.ndarray, path: str | Path, *,
                header: Any = None, source_paths: Sequence[str | Path] = (), overwrite: bool = False) -> Path:
    """Write ``volume`` (3-D, float32) with ``affine`` to ``path`` (``.nii`` or ``.nii.gz``).

    ``header`` (e.g. a Volume's) supplies the other header fields; the data type becomes
    float32 with no scaling. Refuses to replace a file in ``source_paths`` (ever) or an
    existing file (unless ``overwrite``).
    """
    import nibabel as nib

    path = Path(path)
    data = volume.detach().cpu().numpy() if isinstance(volume, torch.Tensor) else np.asarray(volume)
    if data.ndim != 3:
        raise DataError(f"{path}: write_nifti expects a 3-D volume, got shape {data.shape}")
    if not is_nifti(path):
        raise DataError(f"{path}: a NIfTI file name ends in .nii or .nii.gz")
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise DataError(f"{path}: the affine must be 4x4, got shape {affine.shape}")
    if path.resolve() in {Path(p).resolve() for p in source_paths}:
        raise DataError(f"{path}: is a source file; refusing to overwrite it")
    if path.exists() and not overwrite:
        raise DataError(f"{path}: already exists; choose another name or pass overwrite=True")
    img = nib.Nifti1Image(data.astype(np.float32), affine, header=header.copy() if header is not None else None)
    img.set_data_dtype(np.float32)
    img.header.set_slope_inter(1.0, 0.0)
    img.set_qform(affine, code=int(img.header["qform_code"]) or 1)
    img.set_sform(affine, code=int(img.header["sform_code"]) or 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path
