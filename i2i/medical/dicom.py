"""DICOM CT input and output with pydicom.

Reading (:func:`read_dicom`): a single file (single- or multi-frame) or a series folder.
Pixel values become float32 HU through the Modality LUT exactly as pydicom's
``apply_modality_lut(ds.pixel_array, ds)`` computes them (RescaleSlope/RescaleIntercept,
or a Modality LUT Sequence); enhanced multi-frame files take the rescale of each frame
from their functional groups. Compressed transfer syntaxes decode with whatever pydicom
plugin is installed (JPEG 2000 needs ``pillow`` with OpenJPEG, or ``pylibjpeg`` +
``pylibjpeg-openjpeg``). A series folder is sorted by position along the slice normal
(ImagePositionPatient . (row x column direction of ImageOrientationPatient)), falling
back to InstanceNumber, then to the file names. Errors name the file: not DICOM, no pixel
data, undecodable, or a folder mixing series, sizes or orientations.

Writing (:func:`write_dicom_slices`): derived slices with new SOP Instance UIDs and one new
Series Instance UID, int16 pixel data through RescaleSlope/RescaleIntercept (the
source's when the values fit, else an intercept chosen for them), the source metadata
kept, marked as DERIVED i2i output. Source files are never overwritten.
:func:`derived_dataset` makes one such file (single- or multi-frame) for callers that name
their files themselves (``i2i predict``); :func:`read_dicom_frames` reads one file's frames
in its own order.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
_NOT_DICOM_SUFFIXES = {".txt", ".md", ".json", ".csv", ".xml", ".html", ".pdf", ".png", ".jpg", ".jpeg",
                       ".nii", ".gz", ".npy", ".zip"}


def read_dicom(path: str | Path, *, series_uid: str | None = None) -> Volume:
    """A DICOM file or series folder as a :class:`~i2i.medical.volume.Volume` in HU."""
    path = Path(path)
    if path.is_dir():
        return read_dicom_series(path, series_uid=series_uid)
    return read_dicom_file(path)


def read_dicom_file(path: str | Path) -> Volume:
    """One DICOM file: a single slice ``(1, H, W)`` or all frames of a multi-frame file ``(F, H, W)``."""
    path = Path(path)
    hu, ds = read_dicom_frames(path)
    frames = hu.shape[0]
    if frames > 1:
        positions, normal = _frame_positions(ds)
    else:
        positions, normal = None, _normal(ds)
    order = np.argsort(positions, kind="stable") if positions is not None else np.arange(frames)
    if positions is not None and not np.all(order == np.arange(frames)):
        hu, positions = hu[order], positions[order]
    spacing = _spacing([ds], positions)
    return Volume(hu=np.ascontiguousarray(hu), spacing=spacing, paths=[path], kind="dicom", datasets=[ds],
                  affine=_affine(ds, spacing, normal), positions=positions)


def read_dicom_frames(path: str | Path) -> tuple[np.ndarray, Dataset]:
    """One DICOM file's frames ``(F, H, W)`` in HU in the file's own frame order (not sorted
    by position; ``F`` is 1 for a single-frame file) and its header without the pixel data."""
    path = Path(path)
    ds = _read(path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    hu = _multiframe_hu(ds, path) if frames > 1 else _hu(ds, path)[None]
    _strip_pixels(ds)
    return hu, ds


def read_dicom_series(folder: str | Path, *, series_uid: str | None = None) -> Volume:
    """All DICOM files of one series in ``folder`` (not recursive) as ``(D, H, W)`` HU sorted
    along the slice normal. ``series_uid`` picks one series from a folder holding several."""
    folder = Path(folder)
    files = dicom_files(folder)
    if not files:
        raise DataError(f"{folder}: no DICOM files in this folder")
    datasets = [(_read(f), f) for f in files]
    datasets = _one_series(folder, datasets, series_uid)
    if len(datasets) == 1:
        return read_dicom_file(datasets[0][1])
    multi = [f for ds, f in datasets if int(ds.get("NumberOfFrames", 1) or 1) > 1]
    if multi:
        raise DataError(f"{folder}: a series of several multi-frame files is not supported "
                        f"({multi[0].name} has several frames); read the files one by one with read_dicom_file")
    _same_geometry(folder, datasets)
    datasets, positions = _sort(folder, datasets)
    hu = np.stack([_hu(ds, f) for ds, f in datasets])
    for ds, _ in datasets:
        _strip_pixels(ds)
    heads = [ds for ds, _ in datasets]
    spacing = _spacing(heads, positions)
    return Volume(hu=hu, spacing=spacing, paths=[f for _, f in datasets], kind="dicom", datasets=heads,
                  affine=_affine(heads[0], spacing, _normal(heads[0])), positions=positions)


def dicom_files(folder: Path) -> list[Path]:
    """The candidate DICOM files of ``folder``: its ``*.dcm`` files if it has any, else every
    regular, non-hidden file except DICOMDIR and obviously non-DICOM suffixes; sorted."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    dcm = [p for p in files if p.suffix.lower() in (".dcm", ".dicom")]
    if dcm:
        return dcm
    return [p for p in files if p.name.upper() != "DICOMDIR" and p.suffix.lower() not in _NOT_DICOM_SUFFIXES]


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
    functional groups), a new SOPInstanceUID, SeriesInstanceUID ``series_uid``, ImageType
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
    ds.SeriesDescription = description
    image_type = list(ds.get("ImageType", ["ORIGINAL", "PRIMARY"]))
    ds.ImageType = ["DERIVED", "SECONDARY", *image_type[2:]]
    ds.DerivationDescription = description
    return ds


def _read(path: Path) -> Dataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except InvalidDicomError as exc:
        raise DataError(f"{path}: not a DICOM file ({exc})") from None
    except Exception as exc:
        raise DataError(f"{path}: unreadable DICOM file: {type(exc).__name__}: {exc}") from None
    if not any(key in ds for key in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        sop = ds.get("SOPClassUID")
        kind = getattr(sop, "name", sop) or "unknown SOP class"
        raise DataError(f"{path}: no pixel data ({kind}, modality {ds.get('Modality', '?')}): not an image")
    return ds


def _pixels(ds: Dataset, path: Path) -> np.ndarray:
    try:
        array = ds.pixel_array
    except Exception as exc:
        syntax = getattr(ds.get("file_meta", {}), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", syntax) or "unknown transfer syntax"
        raise DataError(f"{path}: cannot decode the pixel data ({name}): {type(exc).__name__}: {exc}. "
                        "Compressed DICOM needs a pydicom decoder plugin, e.g. pip install pylibjpeg "
                        "pylibjpeg-openjpeg pylibjpeg-libjpeg (or pillow for JPEG 2000)") from None
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DataError(f"{path}: colour DICOM ({ds.get('PhotometricInterpretation')}) is not a CT image")
    return array


def _hu(ds: Dataset, path: Path) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    return np.asarray(apply_modality_lut(_pixels(ds, path), ds), dtype=np.float32)


def _multiframe_hu(ds: Dataset, path: Path) -> np.ndarray:
    """Frames ``(F, H, W)`` in HU; enhanced files rescale each frame by its functional groups."""
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_modality_lut

    frames = _pixels(ds, path)
    if "RescaleSlope" in ds or "ModalityLUTSequence" in ds:
        return np.asarray(apply_modality_lut(frames, ds), dtype=np.float32)
    out = np.empty(frames.shape, dtype=np.float32)
    for i, frame in enumerate(frames):
        item = _functional(ds, i, "PixelValueTransformationSequence")
        if item is None or "RescaleSlope" not in item:
            out[i] = frame
            continue
        rescale = Dataset()
        rescale.RescaleSlope, rescale.RescaleIntercept = item.RescaleSlope, item.RescaleIntercept
        out[i] = apply_modality_lut(frame, rescale)
    return out


def _functional(ds: Dataset, frame: int, sequence: str) -> Any:
    """The first item of ``sequence`` for ``frame`` from the per-frame, else shared, functional groups."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if items and index < len(items):
            found = items[index].get(sequence)
            if found:
                return found[0]
    return None


def _frame_positions(ds: Dataset) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Positions along the normal of the frames of a multi-frame file (None when unknown)."""
    frames = int(ds.NumberOfFrames)
    orient = _functional(ds, 0, "PlaneOrientationSequence")
    normal = _normal(orient) if orient is not None else _normal(ds)
    points = [_functional(ds, i, "PlanePositionSequence") for i in range(frames)]
    if normal is None or any(p is None or "ImagePositionPatient" not in p for p in points):
        return None, normal
    return np.array([np.dot(np.asarray(p.ImagePositionPatient, dtype=float), normal) for p in points]), normal


def _normal(ds: Any) -> np.ndarray | None:
    iop = ds.get("ImageOrientationPatient") if ds is not None else None
    if iop is None or len(iop) != 6:
        return None
    row, col = np.asarray(iop[:3], dtype=float), np.asarray(iop[3:], dtype=float)
    return np.cross(row, col)


def _one_series(folder: Path, datasets: list, series_uid: str | None) -> list:
    by_uid: dict[str, list] = {}
    for ds, f in datasets:
        by_uid.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((ds, f))
    if series_uid is not None:
        if series_uid not in by_uid:
            raise DataError(f"{folder}: no series with SeriesInstanceUID {series_uid}; "
                            f"found {', '.join(sorted(by_uid))}")
        return by_uid[series_uid]
    if len(by_uid) > 1:
        listing = "; ".join(f"{uid or '(none)'}: {len(items)} file(s), e.g. {items[0][1].name}"
                            for uid, items in by_uid.items())
        raise DataError(f"{folder}: mixed series in one folder ({listing}); "
                        "keep one series per folder or pass series_uid")
    return datasets


def _same_geometry(folder: Path, datasets: list) -> None:
    first, first_file = datasets[0]
    size = (first.get("Rows"), first.get("Columns"))
    normal = _normal(first)
    for ds, f in datasets[1:]:
        if (ds.get("Rows"), ds.get("Columns")) != size:
            raise DataError(f"{folder}: mixed image sizes: {first_file.name} is {size[0]}x{size[1]}, "
                            f"{f.name} is {ds.get('Rows')}x{ds.get('Columns')}")
        other = _normal(ds)
        if normal is not None and other is not None and not np.allclose(normal, other, atol=1e-4):
            raise DataError(f"{folder}: mixed slice orientations: {first_file.name} and {f.name} "
                            "have different ImageOrientationPatient")


def _sort(folder: Path, datasets: list) -> tuple[list, np.ndarray | None]:
    """Sort by position along the normal, else InstanceNumber, else file name."""
    normal = _normal(datasets[0][0])
    if normal is not None and all("ImagePositionPatient" in ds for ds, _ in datasets):
        positions = np.array([np.dot(np.asarray(ds.ImagePositionPatient, dtype=float), normal) for ds, _ in datasets])
        order = np.argsort(positions, kind="stable")
        positions = positions[order]
        steps = np.diff(positions)
        if np.any(np.abs(steps) < 1e-4):
            i = int(np.argmin(np.abs(steps)))
            raise DataError(f"{folder}: two slices at the same position {positions[i]:.3f} mm: "
                            f"{datasets[order[i]][1].name} and {datasets[order[i + 1]][1].name}")
        return [datasets[i] for i in order], positions
    if all("InstanceNumber" in ds for ds, _ in datasets):
        return sorted(datasets, key=lambda item: int(item[0].InstanceNumber)), None
    return datasets, None


def _spacing(datasets: list, positions: np.ndarray | None) -> tuple[float, float, float]:
    first = datasets[0]
    pixel = first.get("PixelSpacing") or _pixel_measures(first, "PixelSpacing") or (1.0, 1.0)
    if positions is not None and len(positions) > 1:
        dz = float(np.median(np.diff(positions)))
    else:
        dz = first.get("SpacingBetweenSlices") or first.get("SliceThickness") or \
             _pixel_measures(first, "SliceThickness") or 1.0
    return float(dz), float(pixel[0]), float(pixel[1])


def _pixel_measures(ds: Dataset, key: str) -> Any:
    item = _functional(ds, 0, "PixelMeasuresSequence")
    return item.get(key) if item is not None else None


def _affine(ds: Dataset, spacing: tuple[float, float, float], normal: np.ndarray | None) -> np.ndarray | None:
    """Index (slice, row, column) -> LPS mm, from the first slice's position and orientation."""
    iop = ds.get("ImageOrientationPatient")
    ipp = ds.get("ImagePositionPatient")
    if iop is None or ipp is None or normal is None:
        return None
    affine = np.eye(4)
    affine[:3, 0] = normal * spacing[0]
    affine[:3, 1] = np.asarray(iop[3:], dtype=float) * spacing[1]  # down the rows
    affine[:3, 2] = np.asarray(iop[:3], dtype=float) * spacing[2]  # along a row
    affine[:3, 3] = np.asarray(ipp, dtype=float)
    return affine


def _strip_pixels(ds: Dataset) -> None:
    for key in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if key in ds:
            delattr(ds, key)


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
