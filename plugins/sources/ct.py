"""``ct``: 2-D slices of real CT volumes in HU: DICOM series, NIfTI files, NPY arrays."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from i2i.data import DataError, Source
from i2i.data.source import resolve_root
from i2i.errors import UsageError
from i2i.medical.ct_catalog import SliceRef, catalog, find_volumes, read_slice, relative_name
from i2i_plugins.sources.phantom import Region


class CTSliceDataset(Dataset):
    """Slice ``i`` as ``{"target": (1, S, S) float32 HU, "path": "<file>#<slice>",
    "spacing": (row_mm, col_mm) float32, "noiseless": False}`` (a scan carries its own
    noise), padded to a square with air (-1000 HU) when the slice is not square. ``groups`` names each slice's volume, so held-out splits take
    whole volumes (patients); ``size_of`` and ``spacing_of`` come from the headers."""

    def __init__(self, entries: list[SliceRef], root: Path, axis: int | None, stored_values_as_hu: bool = False):
        self.entries = entries
        self.root = root
        self.axis = axis
        self.stored_values_as_hu = stored_values_as_hu

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def groups(self) -> list[str]:
        return [entry.group for entry in self.entries]

    @property
    def relative_paths(self) -> list[str]:
        return [f"{relative_name(entry.path, self.root)}#{entry.index}" for entry in self.entries]

    def read(self, index: int) -> np.ndarray:
        """Slice ``index`` in HU, ``(H, W)`` as stored (not padded)."""
        return read_slice(self.entries[index], self.axis, self.stored_values_as_hu)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        entry = self.entries[index]
        return {"target": torch.from_numpy(square(np.asarray(self.read(index), dtype=np.float32)))[None],
                "path": f"{entry.path}#{entry.index}",
                "spacing": torch.tensor(entry.spacing, dtype=torch.float32), "noiseless": torch.tensor(False)}

    def size_of(self, index: int) -> tuple[int, int]:
        side = max(self.entries[index].size)
        return side, side

    def spacing_of(self, index: int) -> tuple[float, float]:
        """(row, column) pixel spacing in mm of slice ``index``, from the headers (nothing decoded)."""
        return self.entries[index].spacing


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


class CTSource(Source):
    """Every volume under ``root`` (a DICOM series folder, a folder of series, NIfTI or NPY
    files, or one file), cut into 2-D slices along ``axis`` (default: the volume's slice
    axis, axial for DICOM series and usually for NIfTI). DICOM files are found by their
    ``DICM`` marker whatever their names; a folder holding several series gives one volume
    per SeriesInstanceUID, localizers, secondary captures and non-image objects (RT Plan,
    SR...) left out with one line saying so; ``series`` keeps only the series it names (a
    SeriesInstanceUID, or a glob on SeriesDescription such as ``"*axial*"``). Slices are
    ordered along the slice normal (``order = "position"``) or by InstanceNumber
    (``"instance_number"``, for series without positions). Values are float HU by the
    DICOM Modality LUT (RescaleSlope 1 when absent); a CT image with no rescale is refused
    unless ``stored_values_as_hu``. Slices whose fraction of pixels above -500 HU (the body) is
    below ``min_body_fraction`` are left out (empty slices at a scan's ends). Splits hold
    out whole volumes (``data.val_fraction``, ``data.test_fraction``); a single volume is
    split into slabs of slices. Each sample carries its pixel ``spacing`` (row, column mm).

    Without ``data.root`` the built-in phantoms stand in (the ``phantom`` source with the
    ``phantom_*`` options), so a CT recipe runs with no data and switches to real scans by
    setting ``data.root`` alone. With ``data.root``, ``phantom_mix`` phantoms (the same
    ``phantom_*`` options) join the training split, never held out: built-in anatomy (say,
    heads for a trunk collection) mixed with the real scans."""

    def __init__(self, root: str | None = None, axis: int | None = None, min_body_fraction: float = 0.05,
                 series: str | None = None, order: Literal["position", "instance_number"] = "position",
                 stored_values_as_hu: bool = False,
                 phantom_size: int = 128, phantom_train_count: int = 4096, phantom_val_count: int = 32,
                 phantom_test_count: int = 64, phantom_seed: int = 0,
                 phantom_regions: list[Region] | Mapping[str, float] | None = None,
                 phantom_fov_mm: float | Mapping[str, float] | None = None, phantom_mix: int = 0):
        if not 0 <= min_body_fraction < 1:
            raise ValueError(f"min_body_fraction must be in [0, 1), got {min_body_fraction}")
        if axis is not None and not -3 <= axis <= 2:
            raise UsageError(f"source.axis = {axis}: a CT volume has axes 0, 1 and 2 (or -3 to -1 from the end); "
                             "leave source.axis unset to slice along each volume's own slice axis")
        if phantom_mix < 0:
            raise ValueError(f"phantom_mix must be >= 0, got {phantom_mix}")
        from i2i_plugins.sources.phantom import PhantomSource

        self.phantoms = self.mixed = None
        if root is None:
            self.phantoms = PhantomSource(phantom_size, phantom_train_count, phantom_val_count, phantom_test_count,
                                          phantom_seed, phantom_regions, phantom_fov_mm)
            self.root = None
        else:
            self.root = resolve_root(root, "ct")
            if phantom_mix:
                self.mixed = PhantomSource(phantom_size, phantom_mix, 1, 1, phantom_seed, phantom_regions,
                                           phantom_fov_mm).dataset("train")
        self.axis = axis
        self.min_body_fraction = min_body_fraction
        self.series, self.order, self.stored_values_as_hu = series, order, stored_values_as_hu
        self._dataset: CTSliceDataset | None = None

    def splits(self) -> list[str]:
        return self.phantoms.splits() if self.phantoms is not None else super().splits()

    def training_only(self):
        """The ``phantom_mix`` phantoms mixed into the training split of real scans, if any."""
        return self.mixed

    def dataset(self, split: str):
        if self.phantoms is not None:
            return self.phantoms.dataset(split)
        if self._dataset is None:
            self._dataset = CTSliceDataset(self._entries(), self.root, self.axis, self.stored_values_as_hu)
        return self._dataset

    def _entries(self) -> list[SliceRef]:
        volumes = find_volumes(self.root, self.series, self.order)
        if not volumes:
            raise DataError(f"{self.root}: no CT volumes found (looked for DICOM files by their 'DICM' marker, and "
                            ".nii, .nii.gz and .npy files)")
        entries = catalog(volumes, self.axis, self.min_body_fraction, self.stored_values_as_hu)
        if entries and all(entry.problem is not None for entry in entries):
            raise DataError(f"{self.root}: no slice can be read; the first: {entries[0].problem}")
        if not entries:
            raise DataError(f"{self.root}: every slice has less than {self.min_body_fraction:.0%} of its pixels above "
                            "-500 HU; lower source.min_body_fraction")
        return entries
