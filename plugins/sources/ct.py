"""``ct``: 2-D slices of real CT volumes in HU: DICOM series, NIfTI files, NPY arrays."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from i2i.data import DataError, Source
from i2i.data.source import resolve_root
from i2i.errors import UsageError
from i2i.inference.pixel_size import ResamplingError, check_factor, resample
from i2i.medical.ct_catalog import SliceRef, catalog, find_volumes, read_slice
from i2i.medical.dicom_choice import SeriesChoice
from i2i.medical.folders import relative_name
from i2i.medical.regions import region_of_slice
from i2i_plugins.sources.phantom import Region


class CTSliceDataset(Dataset):
    """Slice ``i`` as ``{"target": (1, S, S) float32 HU, "path": "<file>#<slice>",
    "spacing": (row_mm, col_mm) float32 (NaN when unknown), "noiseless": False, "region":
    "head" | "trunk" | "unknown"}`` (a scan carries its own noise; the region its headers name,
    else the body's size says: :mod:`i2i.medical.regions`), resampled to
    ``pixel_size_mm`` when given (and its spacing known), padded to a square with air
    (-1000 HU) when the slice is not square. ``groups`` names each slice's patient, so
    held-out splits take whole patients; ``positions`` (mm along the stack) place the slabs of
    a single patient's split; ``size_of`` and ``spacing_of`` come from the headers."""

    def __init__(self, entries: list[SliceRef], root: Path, axis: int | None, stored_values_as_hu: bool = False,
                 pixel_size_mm: float | None = None):
        self.entries = entries
        self.root = root
        self.axis = axis
        self.stored_values_as_hu = stored_values_as_hu
        self.pixel_size_mm = pixel_size_mm

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def groups(self) -> list[str]:
        return [entry.group for entry in self.entries]

    @property
    def positions(self) -> list[float | None]:
        """Each slice's position along its volume's stack in mm (None when unknown)."""
        return [entry.position for entry in self.entries]

    @property
    def relative_paths(self) -> list[str]:
        return [f"{relative_name(entry.path, self.root)}#{entry.index}" for entry in self.entries]

    def read(self, index: int) -> np.ndarray:
        """Slice ``index`` in HU, ``(H, W)`` as stored (not resampled, not padded)."""
        return read_slice(self.entries[index], self.axis, self.stored_values_as_hu)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        entry = self.entries[index]
        image = torch.from_numpy(np.asarray(self.read(index), dtype=np.float32))
        size = self.resampled_size(index)
        if size is not None:
            image = resample(image[None, None], size)[0, 0]
        spacing = self.spacing_of(index)
        tagged = entry.volume.region if entry.volume is not None else None
        return {"target": torch.from_numpy(square(image.numpy()))[None], "path": f"{entry.path}#{entry.index}",
                "spacing": torch.tensor(spacing, dtype=torch.float32), "noiseless": torch.tensor(False),
                "region": tagged or region_of_slice(image.numpy(), spacing)}

    def resampled_size(self, index: int) -> tuple[int, int] | None:
        """(H, W) of slice ``index`` at ``pixel_size_mm``, or None when it is not resampled."""
        entry = self.entries[index]
        if self.pixel_size_mm is None or not all(math.isfinite(s) for s in entry.spacing):
            return None
        size = tuple(max(1, round(n * s / self.pixel_size_mm)) for n, s in zip(entry.size, entry.spacing))
        return None if size == tuple(entry.size) else size

    def size_of(self, index: int) -> tuple[int, int]:
        side = max(self.resampled_size(index) or self.entries[index].size)
        return side, side

    def spacing_of(self, index: int) -> tuple[float, float]:
        """(row, column) pixel spacing in mm of slice ``index`` as given (after resampling),
        from the headers (nothing decoded); NaN when the headers have none."""
        entry, size = self.entries[index], self.resampled_size(index)
        if size is None:
            return entry.spacing
        return tuple(s * n / m for s, n, m in zip(entry.spacing, entry.size, size))


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
    axis, axial for DICOM series and usually for NIfTI).

    DICOM files are found by their ``DICM`` marker whatever their names, in every folder
    under ``root``, each file and folder once (copies, by SOPInstanceUID, and symlinks are
    left out). A folder gives one volume per series. By default the CT series that are
    original acquisitions are used; one line per kind says which series were left out:
    localizers, secondary captures, non-CT series (MR, PET...: not HU), series that cannot
    become a volume (with the reason), and derived or reformatted series (ImageType DERIVED
    or SECONDARY, coronal, sagittal or oblique reformats), which ``include_derived`` uses
    too. Within a series, images of another orientation or size than most (the axial
    reference image of a coronal reformat) are left out with one line naming them.
    ``series`` names the series to use instead. ``i2i series ROOT`` lists them all and says
    which are used.

    Values are float HU by the DICOM Modality LUT (RescaleSlope 1 when absent); a CT image
    with no rescale is refused unless ``stored_values_as_hu``. Slices whose fraction of
    pixels above -500 HU (tissue) is below ``min_body_fraction`` are left out (empty
    slices at a scan's ends), counted in one line. Splits hold out whole patients
    (PatientID, else StudyInstanceUID, else the volume) with ``data.val_fraction`` and
    ``data.test_fraction``; a single patient is split into slabs of slices
    (``data.slab_position``, ``data.slab_count``, ``data.slab_gap``). Each sample carries its
    pixel ``spacing`` (row, column mm; NaN when the file has none: such slices are never
    resampled and not recorded in a model's geometry).

    Without ``data.root`` the built-in phantoms stand in (the ``phantom`` source with the
    ``phantom_*`` options), so a CT recipe runs with no data and switches to real scans by
    setting ``data.root`` alone. With ``data.root``, ``phantom_mix`` phantoms (the same
    ``phantom_*`` options) join the training split, never held out: built-in anatomy (say,
    heads for a trunk collection) mixed with the real scans.

    Options:
        root: the data (data.root): a folder searched recursively, or one file.
        axis: the volume axis to slice along (0-2); unset: each volume's own slice axis.
        min_body_fraction: slices with a smaller fraction of pixels above -500 HU are left out.
        series: the DICOM series to use: a SeriesInstanceUID, a SeriesNumber or a glob on
            SeriesDescription (case-insensitive, e.g. "*axial*"), or a list of them; a named
            series is used even when derived, and one that cannot be used is an error.
        include_derived: also use derived or secondary series and coronal, sagittal or
            oblique reformats when ``series`` is not given.
        order: "position" orders slices along the slice normal, "instance_number" by
            InstanceNumber (for series without positions).
        pixel_size_mm: resample every slice to square pixels of this size in mm (as MONAI's
            Spacingd does), e.g. to fine-tune a model at the pixel size it was trained at;
            slices without PixelSpacing are left as they are; at most 16x either way.
    """

    def __init__(self, root: str | None = None, axis: int | None = None, min_body_fraction: float = 0.05,
                 series: str | int | list[str | int] | None = None, include_derived: bool = False,
                 order: Literal["position", "instance_number"] = "position",
                 stored_values_as_hu: bool = False, pixel_size_mm: float | None = None,
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
        if pixel_size_mm is not None and not (math.isfinite(pixel_size_mm) and pixel_size_mm > 0):
            raise ValueError(f"pixel_size_mm must be a positive number of mm, got {pixel_size_mm}")
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
        self.choice = SeriesChoice.of(series, include_derived=include_derived)
        self.order, self.stored_values_as_hu, self.pixel_size_mm = order, stored_values_as_hu, pixel_size_mm
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
            self._dataset = CTSliceDataset(self._entries(), self.root, self.axis, self.stored_values_as_hu,
                                           self.pixel_size_mm)
        return self._dataset

    def _entries(self) -> list[SliceRef]:
        volumes = find_volumes(self.root, self.choice, self.order)
        entries = catalog(volumes, self.axis, self.min_body_fraction, self.stored_values_as_hu)
        if entries and all(entry.problem is not None for entry in entries):
            raise DataError(f"{self.root}: no slice can be read; the first: {entries[0].problem}")
        if not entries:
            raise DataError(f"{self.root}: every slice has less than {self.min_body_fraction:.0%} of its pixels above "
                            "-500 HU; lower source.min_body_fraction")
        if self.pixel_size_mm is not None:
            for entry in entries:
                if all(math.isfinite(s) for s in entry.spacing):
                    try:
                        check_factor(entry.size, entry.spacing, (self.pixel_size_mm,) * 2,
                                     f"source.pixel_size_mm = {self.pixel_size_mm:g}", "choose another pixel size")
                    except ResamplingError as exc:
                        raise ResamplingError(f"{entry.path}: {exc}") from None
        return entries
