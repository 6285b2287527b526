"""Writing derived DICOM: i2i's outputs as a new series beside (never over) the source.

:func:`write_dicom_slices` writes a series of slices, :func:`derived_dataset` makes one
such file (single- or multi-frame) for callers that name their files (``i2i predict``).
Each output is a copy of its reference header (patient, study, frame of reference,
geometry) with int16 pixel data through RescaleSlope/RescaleIntercept (the reference's
when the HU fit, else chosen for them: values are kept, not clipped), new SOP Instance
UIDs, one new Series Instance UID, a new SeriesNumber (the source's + 1000), ImageType
``DERIVED\\SECONDARY`` and SeriesDescription ``i2i output``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from i2i.data.imageio import DataError
from i2i.medical.volume import Volume

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: Elements that depend on the stored pixel values or their representation; dropped on write.
_STALE = ("SmallestImagePixelValue", "LargestImagePixelValue", "SmallestPixelValueInSeries",
          "LargestPixelValueInSeries", "PixelPaddingValue", "PixelPaddingRangeLimit", "ModalityLUTSequence",
          "LossyImageCompression", "LossyImageCompressionRatio", "LossyImageCompressionMethod")
#: Added to the source's SeriesNumber for a derived series.
SERIES_NUMBER_OFFSET = 1000


def write_dicom_slices(hu_slices: np.ndarray | torch.Tensor, reference_datasets: Sequence[Dataset] | Volume,
                       out_dir: str | Path, *, series_description: str | None = None,
                       source_paths: Sequence[str | Path] = (), overwrite: bool = False) -> list[Path]:
    """Write ``hu_slices`` (``(D, H, W)``, ``(D, 1, H, W)`` or ``(H, W)``, in HU) as a new DICOM
    series in ``out_dir`` (``slice_0001.dcm``, ...), one file per reference dataset.

    Each file is a copy of its reference (same patient, study, geometry and metadata) with
    new SOPInstanceUID and a new SeriesInstanceUID shared by the series, ImageType
    ``DERIVED\\SECONDARY``, SeriesDescription ``i2i output`` (or ``series_description``),
    uncompressed int16 pixel data and RescaleSlope/RescaleIntercept: the source's when the
    HU fit in int16 with them, else slope 1 (or larger for extreme ranges) and an intercept
    centred on the values. Reading back gives the HU within slope / 2.

    Refuses (:class:`~i2i.data.imageio.DataError`) to write into the folder of any source
    file (the references' ``filename``, a Volume's ``paths`` and ``source_paths``), to replace
    an existing file unless ``overwrite``, and references whose size differs from the slices.
    """
    from pydicom.uid import generate_uid

    hu = _as_slices(hu_slices)
    sources = [Path(p) for p in source_paths]
    if isinstance(reference_datasets, Volume):
        sources += list(reference_datasets.paths)
        reference_datasets = reference_datasets.datasets or []
    refs = list(reference_datasets)
    sources += [Path(ds.filename) for ds in refs if isinstance(getattr(ds, "filename", None), (str, Path))]
    out = Path(out_dir)
    targets = [out / f"slice_{i + 1:04d}.dcm" for i in range(hu.shape[0])]
    _check_targets(out, targets, sources, overwrite)
    if len(refs) != hu.shape[0]:
        raise DataError(f"{out_dir}: {hu.shape[0]} slice(s) but {len(refs)} reference dataset(s); "
                        "give one reference per slice (multi-frame references are not supported)")
    for ds in refs:
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise DataError(f"{_name(ds)}: multi-frame reference datasets are not supported for writing slices")
        if (int(ds.Rows), int(ds.Columns)) != hu.shape[1:]:
            raise DataError(f"{_name(ds)}: reference is {ds.Rows}x{ds.Columns} but the slices are "
                            f"{hu.shape[1]}x{hu.shape[2]}; resample to the reference grid first")
    rescale = _rescale(hu, refs[0])
    series = generate_uid()
    out.mkdir(parents=True, exist_ok=True)
    for image, ref, target in zip(hu, refs, targets):
        derived_dataset(ref, image, series, series_description, rescale).save_as(target, enforce_file_format=True)
    return targets


def derived_dataset(ref: Dataset, hu: np.ndarray, series_uid: str, description: str | None = None,
                    rescale: tuple[float, float] | None = None) -> Dataset:
    """A copy of ``ref`` (a header, pixel data not needed) holding ``hu``: ``(H, W)``, or
    ``(F, H, W)`` frames in the file's frame order for a multi-frame reference.

    The copy keeps the patient, study, geometry and other metadata, and gets uncompressed
    int16 pixel data through ``rescale`` = (slope, intercept) (default: the reference's
    when the HU fit, else chosen for them; enhanced multi-frame files get it in their
    functional groups), a new SOPInstanceUID, SeriesInstanceUID ``series_uid``, SeriesNumber
    :func:`derived_series_number`, ImageType
    ``DERIVED\\SECONDARY`` and SeriesDescription ``description`` (default ``i2i output``).
    """
    import pydicom
    from pydicom.uid import generate_uid

    hu = np.asarray(hu)
    if not np.isfinite(hu).all():
        raise DataError(f"{_name(ref)}: the HU to write contain NaN or infinite values")
    slope, intercept = rescale or _rescale(hu, ref)
    description = (description or "i2i output")[:64]
    ds = copy.deepcopy(ref)
    for key in _STALE:
        if key in ds:
            delattr(ds, key)
    stored = np.clip(np.rint((hu.astype(np.float64) - intercept) / slope), -32768, 32767).astype(np.int16)
    ds.set_pixel_data(stored, "MONOCHROME2", 16, generate_instance_uid=False)
    groups = [item.PixelValueTransformationSequence[0]
              for key in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence")
              for item in ds.get(key, []) if item.get("PixelValueTransformationSequence")]
    for item in [*groups, ds] if "RescaleSlope" in ds or not groups else groups:
        item.RescaleSlope, item.RescaleIntercept, item.RescaleType = _ds(slope), _ds(intercept), "HU"
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = derived_series_number(ref)
    ds.SeriesDescription = description
    image_type = list(ds.get("ImageType", ["ORIGINAL", "PRIMARY"]))
    ds.ImageType = ["DERIVED", "SECONDARY", *image_type[2:]]
    ds.DerivationDescription = description
    return ds


def derived_series_number(ref: Dataset) -> int:
    """The SeriesNumber of a series derived from ``ref``'s: the source's + 1000 (1000 when
    it has none), so viewers list the output apart from its source."""
    try:
        number = int(ref.get("SeriesNumber") or 0)
    except (TypeError, ValueError):
        number = 0
    derived = number + SERIES_NUMBER_OFFSET
    return derived if derived < 2**31 else SERIES_NUMBER_OFFSET


def _as_slices(hu_slices: np.ndarray | torch.Tensor) -> np.ndarray:
    hu = hu_slices.detach().cpu().numpy() if isinstance(hu_slices, torch.Tensor) else np.asarray(hu_slices)
    if hu.ndim == 4 and hu.shape[1] == 1:
        hu = hu[:, 0]
    elif hu.ndim == 2:
        hu = hu[None]
    if hu.ndim != 3:
        raise DataError(f"expected HU slices (D, H, W), (D, 1, H, W) or (H, W), got shape {hu.shape}")
    if not np.isfinite(hu).all():
        raise DataError("the HU slices contain NaN or infinite values")
    return hu


def _rescale(hu: np.ndarray, ref: Dataset) -> tuple[float, float]:
    """(slope, intercept) mapping the HU into int16: the reference's if they fit, else chosen."""
    lo, hi = float(hu.min()), float(hu.max())
    slope = float(ref.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ref.get("RescaleIntercept", 0.0) or 0.0)
    fits = lambda m, b: (lo - b) / m >= -32768 and (hi - b) / m <= 32767  # noqa: E731
    if slope > 0 and fits(slope, intercept):
        return float(_ds(slope)), float(_ds(intercept))
    slope = max(1.0, (hi - lo) / 65000.0)
    intercept = float(np.round((lo + hi) / 2.0))
    return float(_ds(slope)), float(_ds(intercept))


def _ds(value: float) -> str:
    """A DS string (at most 16 characters) for ``value``."""
    from pydicom.valuerep import format_number_as_ds

    return format_number_as_ds(float(value)) if float(value) != int(value) else str(int(value))


def _check_targets(out: Path, targets: list[Path], sources: list[Path], overwrite: bool) -> None:
    resolved = {p.resolve() for p in sources}
    folders = {p.parent for p in resolved}
    if out.resolve() in folders:
        raise DataError(f"{out}: this is the folder of the source series; write derived series elsewhere "
                        "(the source files are never overwritten or mixed with outputs)")
    for target in targets:
        if target.resolve() in resolved:
            raise DataError(f"{target}: is a source file; refusing to overwrite it")
        if target.exists() and not overwrite:
            raise DataError(f"{target}: already exists; choose an empty folder or pass overwrite=True")


def _name(ds: Dataset) -> str:
    return str(getattr(ds, "filename", None) or ds.get("SOPInstanceUID", "reference dataset"))
