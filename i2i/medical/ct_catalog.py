"""The 2-D slices of every CT volume under a folder, catalogued once for the ``ct`` source.

:func:`find_volumes` finds NIfTI and NPY files by suffix and DICOM files by their ``DICM``
marker (any name), one volume per image series (:mod:`i2i.medical.dicom_series`).
:func:`catalog` lists their slices (:class:`SliceRef`): each with its volume's group (held-out
splits take whole groups), its pixel spacing and size from the headers, so whole-dataset
queries decode nothing. Slices that cannot be read (an image file without pixel data, an
undecodable one) stay in the catalogue with the reason, raised when the slice is loaded, so
``data.on_error`` decides ("skip": the next good slice; "raise": stop naming the file); one
line per volume says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from i2i.data.imageio import DataError
from i2i.medical.dicom_read import NoRescaleError, is_dicom
from i2i.medical.dicom_series import Order, Series, scan_folder, select_series
from i2i.medical.io import warn
from i2i.medical.nifti import is_nifti

RESCALE_HINT = "if they are HU, set source.stored_values_as_hu = true"


@dataclass(frozen=True)
class VolumeRef:
    """A volume to slice: ``kind`` "series" (a DICOM series, ``series`` set), "dicom-file"
    (one DICOM file, e.g. multi-frame), "nifti" or "npy"; ``group`` names it for splits."""

    kind: str
    path: Path
    group: str
    series: Series | None = None


@dataclass(frozen=True)
class SliceRef:
    """Slice ``index`` of a volume: read from its own file (``kind`` "dicom") or from the
    volume (``kind`` "volume", ``volume`` set); ``spacing`` (row, column) mm and ``size``
    (rows, columns) from the headers; ``problem`` why it cannot be read, or None."""

    kind: str
    path: Path
    index: int
    group: str
    spacing: tuple[float, float]
    size: tuple[int, int]
    volume: VolumeRef | None = None
    problem: str | None = None


def find_volumes(root: Path, series: str | None = None, order: Order = "position") -> list[VolumeRef]:
    """Every volume under ``root`` (a folder, searched recursively, or one file); ``series``
    keeps the DICOM series it names (a SeriesInstanceUID or a SeriesDescription glob)."""
    if root.is_file():
        if is_nifti(root) or root.suffix.lower() == ".npy":
            return [VolumeRef("nifti" if is_nifti(root) else "npy", root, root.name)]
        if not is_dicom(root):
            raise DataError(f"{root}: not a CT volume (a NIfTI .nii/.nii.gz, an .npy, or a DICOM file with the "
                            "'DICM' marker)")
        return [VolumeRef("dicom-file", root, root.name)]
    found: list[VolumeRef] = []
    dicom: list[Series] = []
    for folder in sorted([root, *[p for p in root.rglob("*") if p.is_dir()]]):
        if any(part.startswith(".") for part in folder.relative_to(root).parts):
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        found += [VolumeRef("nifti", f, relative_name(f, root)) for f in files if is_nifti(f)]
        found += [VolumeRef("npy", f, relative_name(f, root)) for f in files if f.suffix.lower() == ".npy"]
        if any(is_dicom(f) for f in files):
            scan = scan_folder(folder, order=order)
            if scan.skipped:
                warn(scan.skipped)
            dicom += scan.series
    for one in select_series(dicom, series, f"source.series = {series!r}: {root}") if dicom else []:
        multi = [f for ds, f in zip(one.datasets, one.files) if int(ds.get("NumberOfFrames", 1) or 1) > 1]
        group = relative_name(one.folder, root)
        found += [VolumeRef("dicom-file", f, relative_name(f, root)) for f in multi]
        if not multi:
            found.append(VolumeRef("series", one.folder, group, one))
    return found


def catalog(volumes: list[VolumeRef], axis: int | None, min_body_fraction: float,
            stored_values_as_hu: bool = False) -> list[SliceRef]:
    """The slices of ``volumes`` along ``axis`` (None: each volume's slice axis) whose share
    of pixels above -500 HU (the body) is at least ``min_body_fraction``."""
    entries: list[SliceRef] = []
    notes: list[str] = []
    for ref in volumes:
        if ref.kind == "series" and axis in (None, 0):
            entries += _series_slices(ref, min_body_fraction, stored_values_as_hu, notes)
            continue
        volume = read_volume_of(ref, stored_values_as_hu)
        slices = volume.slices(axis)
        spacing = tuple(float(s) for i, s in enumerate(volume.spacing) if i != (volume.slice_axis if axis is None
                                                                                else axis % 3))
        keep = np.flatnonzero(_body(slices) >= min_body_fraction)
        entries += [SliceRef("volume", ref.path, int(i), ref.group, spacing, tuple(slices.shape[1:]), ref)
                    for i in keep]
    if any(entry.problem is None for entry in entries):  # else the caller fails on the first problem
        for note in notes:
            warn(note)
    return entries


def read_slice(entry: SliceRef, axis: int | None, stored_values_as_hu: bool = False) -> np.ndarray:
    """The slice ``entry`` in HU ``(H, W)``; its ``problem`` raised as a DataError."""
    from i2i.medical.dicom_read import read_dicom_file

    if entry.problem is not None:
        raise DataError(entry.problem)
    if entry.kind == "dicom":
        return read_dicom_file(entry.path, stored_values_as_hu=stored_values_as_hu).slice(0)
    return read_volume_of(entry.volume, stored_values_as_hu).slice(entry.index, axis)


def read_volume_of(ref: VolumeRef, stored_values_as_hu: bool = False):
    """The :class:`~i2i.medical.volume.Volume` of ``ref``, cached per process."""
    uid = ref.series.uid if ref.series is not None else None
    order = "position" if ref.series is None or ref.series.positions is not None else "instance_number"
    try:
        return _cached_volume(ref.kind, str(ref.path), uid, order, stored_values_as_hu)
    except NoRescaleError as exc:
        raise NoRescaleError(f"{exc}; {RESCALE_HINT}") from None


@functools.lru_cache(maxsize=4)
def _cached_volume(kind: str, path: str, uid: str | None, order: Order, stored_values_as_hu: bool):
    from i2i.medical.dicom import read_dicom_file, read_dicom_series
    from i2i.medical.io import read_npy
    from i2i.medical.nifti import read_nifti

    if kind == "series":
        return read_dicom_series(path, series=uid, order=order, stored_values_as_hu=stored_values_as_hu)
    if kind == "dicom-file":
        return read_dicom_file(path, stored_values_as_hu=stored_values_as_hu)
    return read_nifti(path) if kind == "nifti" else read_npy(path)


def _series_slices(ref: VolumeRef, min_body_fraction: float, stored_values_as_hu: bool,
                   notes: list[str]) -> list[SliceRef]:
    """One entry per file of a series, in slice order; unreadable files kept with their
    problem, and a line on them added to ``notes``."""
    from i2i.medical.dicom_geometry import pixel_spacing
    from i2i.medical.dicom_read import read_dicom_frames

    series = ref.series
    if series.note:
        warn(series.note)
    entries, problems = [], []
    for i, (ds, path) in enumerate(zip(series.datasets, series.files)):
        size = (int(ds.get("Rows") or 0), int(ds.get("Columns") or 0))
        entry = SliceRef("dicom", path, i, ref.group, pixel_spacing(ds), size)
        problem = series.unusable.get(path)
        if problem is None:
            try:
                hu = read_dicom_frames(path, stored_values_as_hu=stored_values_as_hu)[0]
            except NoRescaleError as exc:
                raise NoRescaleError(f"{exc}; {RESCALE_HINT}") from None
            except DataError as exc:
                problem = str(exc)
            else:
                if _body(hu)[0] < min_body_fraction:
                    continue
        if problem is not None:
            problems.append(problem if str(path) in problem else f"{path}: {problem}")
            entry = SliceRef("dicom", path, i, ref.group, entry.spacing, size, problem=problems[-1])
        entries.append(entry)
    if problems:
        notes.append(f"{series.label}: {len(problems)} slice(s) cannot be read, e.g. {problems[0]}; with "
                     'data.on_error = "skip" they are left out, with "raise" (the default) the run stops when one '
                     "is loaded")
    return entries


def _body(slices: np.ndarray) -> np.ndarray:
    return (slices > -500).reshape(slices.shape[0], -1).mean(1)


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (POSIX), or its name when it is ``root`` or outside it."""
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        return path.name
    return path.name if relative in ("", ".") else relative
