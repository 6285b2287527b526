"""``ct``: 2-D slices of real CT volumes in HU: DICOM series, NIfTI files, NPY arrays."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from i2i.data import DataError, Source
from i2i.data.source import resolve_root
from i2i_plugins.sources.phantom import Region

NIFTI_SUFFIXES = (".nii", ".nii.gz")


@functools.lru_cache(maxsize=4)
def _volume(path: str):
    """A NIfTI/NPY volume, cached per process (slices of one volume are read together often)."""
    from i2i.medical.io import read_volume

    return read_volume(path)


def find_volumes(root: Path) -> list[tuple[str, Path]]:
    """``(kind, path)`` of every volume under ``root``: NIfTI and NPY files, and DICOM series
    (every folder holding DICOM files, each read as one series)."""
    from i2i.medical.dicom import dicom_files

    if root.is_file():
        name = root.name.lower()
        kind = "nifti" if name.endswith(NIFTI_SUFFIXES) else "npy" if name.endswith(".npy") else "dicom-file"
        return [(kind, root)]
    found: list[tuple[str, Path]] = []
    for folder in sorted([root, *[p for p in root.rglob("*") if p.is_dir()]]):
        if any(part.startswith(".") for part in folder.relative_to(root).parts):
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file())
        found += [("nifti", f) for f in files if f.name.lower().endswith(NIFTI_SUFFIXES)]
        found += [("npy", f) for f in files if f.suffix.lower() == ".npy"]
        if any(_is_dicom(f) for f in dicom_files(folder)[:3]):
            found.append(("dicom", folder))
    return found


def _is_dicom(path: Path) -> bool:
    """A DICOM Part-10 file (the "DICM" marker after the 128-byte preamble)."""
    try:
        with path.open("rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False


class CTSliceDataset(Dataset):
    """Slice ``i`` as ``{"target": (1, S, S) float32 HU, "path": "<volume>#<slice>"}``, padded
    to a square with air (-1000 HU) when the slice is not square. ``groups`` names each
    slice's volume, so held-out splits take whole volumes (patients)."""

    def __init__(self, entries: list[tuple[str, Path, int, str]], root: Path, axis: int | None):
        self.entries = entries
        self.root = root
        self.axis = axis

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def groups(self) -> list[str]:
        return [group for *_, group in self.entries]

    @property
    def relative_paths(self) -> list[str]:
        return [f"{_relative(path, self.root)}#{index}" for _, path, index, _ in self.entries]

    def read(self, index: int) -> np.ndarray:
        kind, path, i, _ = self.entries[index]
        if kind == "dicom":
            from i2i.medical.dicom import read_dicom_file

            return read_dicom_file(path).slice(0)
        return _volume(str(path)).slice(i, self.axis)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        kind, path, i, _ = self.entries[index]
        return {"target": torch.from_numpy(square(np.asarray(self.read(index), dtype=np.float32)))[None],
                "path": f"{path}#{i}"}

    def size_of(self, index: int) -> tuple[int, int]:
        side = max(self.read(index).shape)
        return side, side


def square(slice_hu: np.ndarray, fill: float = -1000.0) -> np.ndarray:
    """Pad a 2-D slice to a centred square with ``fill``."""
    h, w = slice_hu.shape
    side = max(h, w)
    if h == w:
        return np.ascontiguousarray(slice_hu)
    out = np.full((side, side), fill, dtype=slice_hu.dtype)
    top, left = (side - h) // 2, (side - w) // 2
    out[top:top + h, left:left + w] = slice_hu
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or path.name
    except ValueError:
        return path.name


class CTSource(Source):
    """Every volume under ``root`` (a DICOM series folder, a folder of series, NIfTI or NPY
    files, or one file), cut into 2-D slices along ``axis`` (default: the volume's slice
    axis, axial for DICOM series and usually for NIfTI). Values stay float HU (DICOM through
    RescaleSlope/Intercept). Slices whose fraction of pixels above -500 HU (the body) is
    below ``min_body_fraction`` are left out (empty slices at a scan's ends). Splits hold
    out whole volumes (``data.val_fraction``, ``data.test_fraction``).

    Without ``data.root`` the built-in phantoms stand in (the ``phantom`` source with the
    ``phantom_*`` options), so a CT recipe runs with no data and switches to real scans by
    setting ``data.root`` alone."""

    def __init__(self, root: str | None = None, axis: int | None = None, min_body_fraction: float = 0.05,
                 phantom_size: int = 128, phantom_train_count: int = 4096, phantom_val_count: int = 32,
                 phantom_test_count: int = 64, phantom_seed: int = 0,
                 phantom_regions: list[Region] | Mapping[str, float] | None = None,
                 phantom_fov_mm: float | Mapping[str, float] | None = None):
        if not 0 <= min_body_fraction < 1:
            raise ValueError(f"min_body_fraction must be in [0, 1), got {min_body_fraction}")
        self.phantoms = None
        if root is None:
            from i2i_plugins.sources.phantom import PhantomSource

            self.phantoms = PhantomSource(phantom_size, phantom_train_count, phantom_val_count, phantom_test_count,
                                          phantom_seed, phantom_regions, phantom_fov_mm)
            self.root = None
        else:
            self.root = resolve_root(root, "ct")
        self.axis = axis
        self.min_body_fraction = min_body_fraction
        self._dataset: CTSliceDataset | None = None

    def splits(self) -> list[str]:
        return self.phantoms.splits() if self.phantoms is not None else super().splits()

    def dataset(self, split: str):
        if self.phantoms is not None:
            return self.phantoms.dataset(split)
        if self._dataset is None:
            self._dataset = CTSliceDataset(self._entries(), self.root, self.axis)
        return self._dataset

    def _entries(self) -> list[tuple[str, Path, int, str]]:
        from i2i.medical.io import read_volume

        volumes = find_volumes(self.root)
        if not volumes:
            raise DataError(f"{self.root}: no CT volumes found (looked for DICOM series, .nii, .nii.gz and .npy files)")
        entries: list[tuple[str, Path, int, str]] = []
        for kind, path in volumes:
            volume = read_volume(path)
            slices = volume.slices(self.axis)
            body = (slices > -500).reshape(slices.shape[0], -1).mean(1)
            keep = [i for i in range(slices.shape[0]) if body[i] >= self.min_body_fraction]
            group = _relative(path, self.root)
            if kind == "dicom" and (self.axis in (None, 0)) and len(volume.paths) == slices.shape[0]:
                entries += [("dicom", volume.paths[i], i, group) for i in keep]  # one file per slice
            else:
                entries += [("volume", path, i, group) for i in keep]
        if not entries:
            raise DataError(f"{self.root}: every slice has less than {self.min_body_fraction:.0%} of its pixels above "
                            "-500 HU; lower data.min_body_fraction")
        return entries
