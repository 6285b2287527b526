"""DICOM series: a folder's files grouped into one series per SeriesInstanceUID, ordered
along the slice normal, checked, and read as a volume.

:func:`scan_folder` reads headers only (pixel data stay on disk). Non-image objects (RT Plan,
SR, presentation states, DICOMDIR...), secondary captures and localizers/scouts are left
out, and :attr:`Scan.skipped` says so in one line. ``series`` chooses among the rest: a
SeriesInstanceUID, or a glob on SeriesDescription (case-insensitive, e.g. ``"*axial*"``).
Slices are ordered by ImagePositionPatient along the normal of ImageOrientationPatient
(``order="position"``), or by InstanceNumber (``order="instance_number"``) for series
without positions. Uneven slice spacing and a gantry tilt (positions stepping off the
normal) are noted in one line per series (:attr:`Series.note`): 2-D slices are unaffected.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from i2i.data.imageio import DataError
from i2i.medical import dicom_geometry as geo
from i2i.medical.dicom_read import (PIXEL_KEYS, decode_pixels, dicom_files, has_pixels, read_dicom_file, read_header,
                                   skip_reason, sop_class_name, to_hu)
from i2i.medical.volume import Volume

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

Order = Literal["position", "instance_number"]
ORDER_HINT = 'order the slices by InstanceNumber instead (source.order = "instance_number" in a recipe, ' \
             'order="instance_number" in Python)'
SERIES_HINT = "choose one with source.series (in Python series=): a SeriesInstanceUID or a glob on SeriesDescription"


@dataclass
class Series:
    """One image series of a folder: ``files`` and their headers ``datasets`` in slice order,
    ``positions`` along the normal (None when ordered by InstanceNumber), ``spacing``
    (slice, row, column) in mm, ``unusable`` files (no pixel data) with the reason, and a
    ``note`` on its geometry (uneven spacing, gantry tilt) or None."""

    folder: Path
    uid: str
    description: str
    files: list[Path]
    datasets: list[Dataset] = field(repr=False)
    positions: np.ndarray | None
    spacing: tuple[float, float, float]
    unusable: dict[Path, str] = field(default_factory=dict)
    note: str | None = None

    @property
    def label(self) -> str:
        """``series 'DESCRIPTION' (UID) in FOLDER``, to name it in messages."""
        return series_label(self.folder, self.uid, self.description)


def series_label(folder: Path, uid: str, description: str) -> str:
    """``series 'DESCRIPTION' (UID) in FOLDER``, to name a series in messages."""
    uid = uid or "no SeriesInstanceUID"
    described = f"{description!r} ({uid})" if description else uid
    return f"series {described} in {folder}"


@dataclass
class Scan:
    """The image series found in a folder and a one-line account of what was left out (or None)."""

    series: list[Series]
    skipped: str | None = None


def scan_folder(folder: str | Path, *, order: Order = "position") -> Scan:
    """Every image series of ``folder`` (not recursive), from the headers alone."""
    folder = Path(folder)
    by_uid: dict[str, list[tuple[Dataset, Path]]] = {}
    left_out: dict[str, list[Path]] = {}
    for path in dicom_files(folder):
        ds = read_header(path)
        reason = skip_reason(ds)
        if reason is not None:
            left_out.setdefault(reason, []).append(path)
            continue
        by_uid.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((ds, path))
    skipped = None
    if left_out:
        parts = [f"{len(files)} {reason}{'s' if len(files) > 1 else ''} (e.g. {files[0].name})"
                 for reason, files in left_out.items()]
        skipped = f"{folder}: left out {', '.join(parts)}: not slices of an image series"
    return Scan([_series(folder, uid, items, order) for uid, items in by_uid.items()], skipped)


def select_series(found: list[Series], series: str | None, where: str) -> list[Series]:
    """The series matching ``series`` (a SeriesInstanceUID, or a glob on SeriesDescription);
    all of them when ``series`` is None. No match fails listing what ``where`` holds."""
    if series is None:
        return found
    chosen = [s for s in found if s.uid == series or fnmatch.fnmatchcase(s.description.lower(), series.lower())]
    if not chosen:
        listing = "; ".join(f"{s.uid} {s.description!r} ({len(s.files)} file(s))" for s in found) or "none"
        raise DataError(f"{where}: no image series has SeriesInstanceUID {series!r} or a SeriesDescription "
                        f"matching it; the series there: {listing}")
    return chosen


def read_dicom_series(folder: str | Path, *, series: str | None = None, order: Order = "position",
                      stored_values_as_hu: bool = False) -> Volume:
    """The one image series in ``folder`` (``series`` chooses when there are several) as a
    :class:`~i2i.medical.volume.Volume` ``(D, H, W)`` in HU, slices in order. Left-out
    objects and geometry notes are printed in one line each."""
    from i2i.medical.io import warn

    folder = Path(folder)
    scan = scan_folder(folder, order=order)
    if scan.skipped:
        warn(scan.skipped)
    if not scan.series:
        raise DataError(f"{folder}: no DICOM image series in this folder (files are recognised by their 'DICM' "
                        "marker)")
    chosen = select_series(scan.series, series, str(folder))
    if len(chosen) > 1:
        listing = "; ".join(f"{s.uid} {s.description!r} ({len(s.files)} file(s))" for s in chosen)
        raise DataError(f"{folder}: {len(chosen)} image series in one folder ({listing}); {SERIES_HINT}")
    one = chosen[0]
    if one.note:
        warn(one.note)
    if one.unusable:
        path, reason = next(iter(one.unusable.items()))
        raise DataError(f"{path}: {reason}; {one.label} cannot be read as a volume without it")
    if len(one.files) == 1:
        return read_dicom_file(one.files[0], stored_values_as_hu=stored_values_as_hu)
    multi = [f for ds, f in zip(one.datasets, one.files) if int(ds.get("NumberOfFrames", 1) or 1) > 1]
    if multi:
        raise DataError(f"{multi[0]}: {one.label} has several multi-frame files; read them one by one with "
                        "read_dicom_file")
    hu = np.stack([read_slice(ds, f, stored_values_as_hu) for ds, f in zip(one.datasets, one.files)])
    heads = one.datasets
    for ds in heads:
        for key in PIXEL_KEYS:
            if key in ds:
                delattr(ds, key)
    return Volume(hu=hu, spacing=one.spacing, paths=list(one.files), kind="dicom", datasets=heads,
                  affine=geo.affine(heads[0], one.spacing, geo.normal(heads[0])), positions=one.positions)


def read_slice(ds: Dataset, path: Path, stored_values_as_hu: bool = False) -> np.ndarray:
    """One single-frame slice ``(H, W)`` in HU from its header ``ds`` (pixel data deferred)."""
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DataError(f"{path}: colour DICOM ({ds.get('PhotometricInterpretation')}) is not a CT image")
    return to_hu(ds, decode_pixels(ds, path)[None], path, stored_values_as_hu)[0]


def _series(folder: Path, uid: str, items: list[tuple[Dataset, Path]], order: Order) -> Series:
    description = str(items[0][0].get("SeriesDescription", "") or "")
    label = series_label(folder, uid, description)
    unusable = {f: f"no pixel data ({sop_class_name(ds)}, modality {ds.get('Modality', '?')}): not an image"
                for ds, f in items if not has_pixels(ds)}
    _same_geometry(label, items)
    if len(items) == 1:
        ds, f = items[0]
        return Series(folder, uid, description, [f], [ds], None, geo.spacing(ds, None), unusable)
    if order == "instance_number":
        missing = next((f for ds, f in items if ds.get("InstanceNumber") in (None, "")), None)
        if missing is not None:
            raise DataError(f"{missing}: no InstanceNumber, so {label} cannot be ordered by it; "
                            'order by position instead (source.order = "position")')
        items = sorted(items, key=lambda item: int(item[0].InstanceNumber))
        return Series(folder, uid, description, [f for _, f in items], [ds for ds, _ in items], None,
                      geo.spacing(items[0][0], None), unusable)
    n = geo.normal(items[0][0])
    missing = next((f for ds, f in items if n is None or "ImagePositionPatient" not in ds), None)
    if missing is not None:
        raise DataError(f"{missing}: no ImagePositionPatient or ImageOrientationPatient, so {label} cannot be "
                        f"ordered along the slice normal; {ORDER_HINT}")
    positions = np.array([np.dot(np.asarray(ds.ImagePositionPatient, dtype=float), n) for ds, _ in items])
    index = np.argsort(positions, kind="stable")
    items, positions = [items[i] for i in index], positions[index]
    steps = np.diff(positions)
    if np.any(np.abs(steps) < 1e-4):
        i = int(np.argmin(np.abs(steps)))
        raise DataError(f"{folder}: two slices of {label} at the same position {positions[i]:.3f} mm: "
                        f"{items[i][1].name} and {items[i + 1][1].name} (two acquisitions in one series?); "
                        f"{ORDER_HINT}")
    heads = [ds for ds, _ in items]
    spacing = geo.spacing(heads[0], positions)
    return Series(folder, uid, description, [f for _, f in items], heads, positions, spacing, unusable,
                  _geometry_note(label, heads, steps, n))


def _same_geometry(label: str, items: list[tuple[Dataset, Path]]) -> None:
    first, first_file = items[0]
    size = (first.get("Rows"), first.get("Columns"))
    n = geo.normal(first)
    for ds, f in items[1:]:
        if (ds.get("Rows"), ds.get("Columns")) != size:
            raise DataError(f"{label}: mixed image sizes: {first_file.name} is {size[0]}x{size[1]}, "
                            f"{f.name} is {ds.get('Rows')}x{ds.get('Columns')}; one series holds one image size")
        other = geo.normal(ds)
        if n is not None and other is not None and not np.allclose(n, other, atol=1e-4):
            raise DataError(f"{label}: mixed slice orientations: {first_file.name} and {f.name} have different "
                            "ImageOrientationPatient; one series holds one orientation")


def _geometry_note(label: str, heads: list[Dataset], steps: np.ndarray, n: np.ndarray) -> str | None:
    """One line on uneven spacing and gantry tilt, or None for a regular stack."""
    problems = []
    median = float(np.median(steps))
    if float(steps.max() - steps.min()) > max(0.01 * median, 1e-3):
        common = ", ".join(f"{s:g}" for s, _ in Counter(np.round(steps, 2).tolist()).most_common(4))
        problems.append(f"uneven slice spacing, {steps.min():.2f} to {steps.max():.2f} mm (steps of {common} mm; "
                        f"the volume's spacing is the median, {median:.2f} mm)")
    tilt = geo.tilt_degrees(heads[0], heads[-1], n)
    if tilt > 0.5:
        problems.append(f"gantry tilt of {tilt:.1f} degrees (slices sheared along the stack)")
    if not problems:
        return None
    return f"{label}: {' and '.join(problems)}; 2-D slices are unaffected, a 3-D use would need resampling"
