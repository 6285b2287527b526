"""The 2-D slices of every CT volume under a folder, catalogued once for the ``ct`` source.

:func:`find_volumes` finds NIfTI and NPY files by suffix and DICOM files by their ``DICM``
marker (any name) in every folder under the root, each folder once (a symlinked folder, or
a symlink loop, is not read twice; a copy of a DICOM image already read, by SOPInstanceUID,
is left out). DICOM files give one volume per series that the
:class:`~i2i.medical.dicom_choice.SeriesChoice` uses, with one line per kind of series left
out. Volumes of one patient (PatientID, else StudyInstanceUID) share a group, so held-out
splits never put one patient on both sides. Each volume also carries what its headers say
about the scan (:class:`VolumeRef`: patient, study, BodyPartExamined, the descriptions and
the body region they name) for other components to read.

:func:`catalog` lists their slices (:class:`SliceRef`): each with its volume's group, its
position along the stack in mm, its pixel spacing and size from the headers, so
whole-dataset queries decode nothing. Slices mostly outside the body are left out with one
line counting them per volume. Slices that cannot be read (an image file without pixel data,
an undecodable one) stay in the catalogue with the reason, raised when the slice is loaded,
so ``data.on_error`` decides ("skip": the next good slice; "raise": stop naming the file);
one line per volume says so.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from i2i.data.imageio import DataError
from i2i.data.source import note_once, warn_once
from i2i.medical.dicom import read_dicom_file, read_dicom_series
from i2i.medical.dicom_choice import SeriesChoice, choose
from i2i.medical.dicom_geometry import pixel_spacing
from i2i.medical.dicom_read import NoRescaleError, is_dicom, modality_problem, read_dicom_frames, read_header
from i2i.medical.dicom_series import Order, Series, left_out_line, scan_folder
from i2i.medical.folders import data_folders, relative_name
from i2i.medical.io import read_npy
from i2i.medical.nifti import is_nifti, read_nifti
from i2i.medical.regions import region_of_tags

RESCALE_HINT = "if they are HU, set source.stored_values_as_hu = true"


@dataclass(frozen=True)
class VolumeRef:
    """A volume to slice: ``kind`` "series" (a DICOM series, ``series`` set), "dicom-file"
    (one DICOM file, e.g. multi-frame), "nifti" or "npy"; ``name`` names it in messages,
    ``group`` its patient for splits. From the DICOM headers (``""`` when unknown):
    ``patient`` (PatientID, else StudyInstanceUID), ``study`` (StudyInstanceUID),
    ``body_part`` (BodyPartExamined), ``study_description``, ``series_description`` and
    ``protocol`` (ProtocolName)."""

    kind: str
    path: Path
    group: str
    series: Series | None = None
    name: str = ""
    patient: str = ""
    study: str = ""
    body_part: str = ""
    study_description: str = ""
    series_description: str = ""
    protocol: str = ""

    @property
    def region(self) -> str | None:
        """The body region the headers name (:func:`i2i.medical.regions.region_of_tags`), or None."""
        return region_of_tags(self.body_part, (self.study_description, self.series_description, self.protocol))


@dataclass(frozen=True)
class SliceRef:
    """Slice ``index`` of ``volume``: read from its own file (``kind`` "dicom") or from the
    volume (``kind`` "volume"); ``spacing`` (row, column) mm (NaN when unknown) and ``size``
    (rows, columns) from the headers; ``position`` along the stack in mm (None when
    unknown); ``problem`` why it cannot be read, or None."""

    kind: str
    path: Path
    index: int
    group: str
    spacing: tuple[float, float]
    size: tuple[int, int]
    volume: VolumeRef | None = None
    problem: str | None = None
    position: float | None = None


def find_volumes(root: Path, choice: SeriesChoice = SeriesChoice(), order: Order = "position") -> list[VolumeRef]:
    """Every volume under ``root`` (a folder, searched recursively, or one file); of the
    DICOM series, those ``choice`` uses (see :mod:`i2i.medical.dicom_choice`)."""
    if root.is_file():
        return [_single_file(root, choice)]
    found: list[VolumeRef] = []
    series: list[Series] = []
    seen: dict[str, Path] = {}
    folders, repeats = data_folders(root)
    lines = [f"{root}: read once: " + ", ".join(f"{again} is {first}" for again, first in repeats)] if repeats else []
    for folder in folders:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        found += [VolumeRef("nifti" if is_nifti(f) else "npy", f, relative_name(f, root), name=relative_name(f, root))
                  for f in files if is_nifti(f) or f.suffix.lower() == ".npy"]
        if any(is_dicom(f) for f in files):
            scan = scan_folder(folder, order=order, seen=seen)
            lines += [scan.skipped] if scan.skipped else []
            series += scan.series
    if series:
        chosen = choose(series, choice, str(root))
        lines += chosen.lines
        found += [ref for one in chosen.used for ref in _series_volumes(one, root)]
    if not found and series:
        raise DataError(f"{root}: no DICOM series to use: "
                        + "; ".join(line.removeprefix(f"{root}: ") for line in lines))
    if not found:
        raise DataError(f"{root}: no CT volumes found (looked for DICOM files by their 'DICM' marker, and .nii, "
                        ".nii.gz and .npy files)")
    for line in lines:
        warn_once(line)
    return _patient_groups(_unique_files(found))


def _single_file(root: Path, choice: SeriesChoice) -> VolumeRef:
    if is_nifti(root) or root.suffix.lower() == ".npy":
        return VolumeRef("nifti" if is_nifti(root) else "npy", root, root.name, name=root.name)
    if not is_dicom(root):
        raise DataError(f"{root}: not a CT volume (a NIfTI .nii/.nii.gz, an .npy, or a DICOM file with the "
                        "'DICM' marker)")
    ds = read_header(root)
    problem = modality_problem(ds) if choice.ct_only else None
    if problem is not None:
        raise DataError(f"{root}: {problem}; the ct source reads CT images only")
    return _described(VolumeRef("dicom-file", root, root.name, name=root.name), ds)


def _series_volumes(one: Series, root: Path) -> list[VolumeRef]:
    """The volumes of a used series: the series, or each of its multi-frame files."""
    multi = [f for ds, f in zip(one.datasets, one.files) if int(ds.get("NumberOfFrames", 1) or 1) > 1]
    group = relative_name(one.folder, root)
    if multi:
        return [_described(VolumeRef("dicom-file", f, relative_name(f, root), name=relative_name(f, root)), one.head)
                for f in multi]
    return [_described(VolumeRef("series", one.folder, group, one, name=f"{group} {one.short}"), one.head)]


def _described(ref: VolumeRef, ds) -> VolumeRef:
    """``ref`` with what the DICOM header ``ds`` says about patient, study and body part."""
    def tag(key: str) -> str:
        return str(ds.get(key, "") or "").strip()

    return dataclasses.replace(ref, patient=tag("PatientID") or tag("StudyInstanceUID"),
                               study=tag("StudyInstanceUID"), body_part=tag("BodyPartExamined").upper(),
                               study_description=tag("StudyDescription"),
                               series_description=tag("SeriesDescription"), protocol=tag("ProtocolName"))


def _unique_files(refs: list[VolumeRef]) -> list[VolumeRef]:
    """``refs`` without a second NIfTI/NPY/DICOM file that is the same file (a symlink)."""
    seen: set[str] = set()
    unique = []
    for ref in refs:
        key = os.path.realpath(ref.path) if ref.kind != "series" else f"{os.path.realpath(ref.path)}#{ref.series.uid}"
        if key not in seen:
            seen.add(key)
            unique.append(ref)
    return unique


def _patient_groups(refs: list[VolumeRef]) -> list[VolumeRef]:
    """Volumes of one patient share one group: the first of their groups (a folder or file name)."""
    first: dict[str, str] = {}
    for ref in sorted(refs, key=lambda r: r.group):
        if ref.patient:
            first.setdefault(ref.patient, ref.group)
    return [dataclasses.replace(ref, group=first[ref.patient]) if ref.patient else ref for ref in refs]


def catalog(volumes: list[VolumeRef], axis: int | None, min_body_fraction: float,
            stored_values_as_hu: bool = False) -> list[SliceRef]:
    """The slices of ``volumes`` along ``axis`` (None: each volume's slice axis) whose share
    of pixels above -500 HU (the body) is at least ``min_body_fraction``."""
    entries: list[SliceRef] = []
    notes: list[str] = []
    dropped: list[str] = []
    for ref in volumes:
        if ref.kind == "series" and axis in (None, 0):
            kept, total = _series_slices(ref, min_body_fraction, stored_values_as_hu, notes)
        else:
            kept, total = _volume_slices(ref, axis, min_body_fraction, stored_values_as_hu)
        entries += kept
        if total > len(kept):
            dropped.append(f"{total - len(kept)} of {total} in {ref.name}")
    if any(entry.problem is None for entry in entries):  # else the caller fails on the first problem
        for note in notes:
            warn_once(note)
        if dropped:
            note_once(f"source.min_body_fraction = {min_body_fraction:g}: left out the slices with less than "
                      f"{min_body_fraction:.0%} of their pixels above -500 HU (air at a scan's ends): "
                      f"{'; '.join(dropped)}")
    return entries


def _volume_slices(ref: VolumeRef, axis: int | None, min_body_fraction: float,
                   stored_values_as_hu: bool) -> tuple[list[SliceRef], int]:
    volume = read_volume_of(ref, stored_values_as_hu)
    along = volume.slice_axis if axis is None else axis % 3
    slices = volume.slices(axis)
    spacing = tuple(float(s) for i, s in enumerate(volume.spacing) if i != along)
    positions = volume.positions if along == 0 and volume.positions is not None else \
        np.arange(len(slices)) * float(volume.spacing[along])
    keep = np.flatnonzero(_body(slices) >= min_body_fraction)
    return [SliceRef("volume", ref.path, int(i), ref.group, spacing, tuple(slices.shape[1:]), ref,
                     position=float(positions[i])) for i in keep], len(slices)


def read_slice(entry: SliceRef, axis: int | None, stored_values_as_hu: bool = False) -> np.ndarray:
    """The slice ``entry`` in HU ``(H, W)``; its ``problem`` raised as a DataError."""
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
    if kind == "series":
        return read_dicom_series(path, series=uid, order=order, stored_values_as_hu=stored_values_as_hu)
    if kind == "dicom-file":
        return read_dicom_file(path, stored_values_as_hu=stored_values_as_hu)
    return read_nifti(path) if kind == "nifti" else read_npy(path)


def _series_slices(ref: VolumeRef, min_body_fraction: float, stored_values_as_hu: bool,
                   notes: list[str]) -> tuple[list[SliceRef], int]:
    """One entry per file of a series, in slice order, and the series' slice count;
    unreadable files kept with their problem, and a line on them added to ``notes``."""
    series = ref.series
    for line in (left_out_line(series), series.note):
        if line:
            warn_once(line)
    entries, problems = [], []
    for i, (ds, path) in enumerate(zip(series.datasets, series.files)):
        size = (int(ds.get("Rows") or 0), int(ds.get("Columns") or 0))
        position = float(series.positions[i]) if series.positions is not None else None
        entry = SliceRef("dicom", path, i, ref.group, pixel_spacing(ds), size, ref, position=position)
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
            entry = dataclasses.replace(entry, problem=problems[-1])
        entries.append(entry)
    if problems:
        notes.append(f"{series.label}: {len(problems)} slice(s) cannot be read, e.g. {problems[0]}; with "
                     'data.on_error = "skip" they are left out, with "raise" (the default) the run stops when one '
                     "is loaded")
    if entries and math.isnan(entries[0].spacing[0]):
        notes.append(f"{series.label}: no PixelSpacing, so its pixel size is unknown: its slices are never resampled "
                     "to a model's pixel size and not recorded in a model's geometry")
    return entries, len(series.files)


def _body(slices: np.ndarray) -> np.ndarray:
    return (slices > -500).reshape(slices.shape[0], -1).mean(1)
