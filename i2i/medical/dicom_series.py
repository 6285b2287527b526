"""DICOM series: a folder's files grouped into one series per SeriesInstanceUID, checked and
ordered along the slice normal, and read as a volume.

:func:`scan_folder` reads headers only (pixel data stay on disk). Non-image objects (RT Plan,
SR, presentation states, DICOMDIR...) and copies of an image already read (the same
SOPInstanceUID: a duplicated or symlinked folder) are left out, and :attr:`Scan.skipped` says
so in one line. Each series is then checked on its own and never raises: images of another
kind, orientation or size than most of the series (the axial reference image of a coronal
reformat, a localizer filed with its axial series) are left out (:attr:`Series.left_out`), and
a series that cannot become a volume (bad geometry tags, no positions, two slices at one
place) carries the reason in :attr:`Series.problem`, raised only when that series is read.
Which series a command uses is :mod:`i2i.medical.dicom_choice`'s decision.

Slices are ordered by ImagePositionPatient along the normal of ImageOrientationPatient
(``order="position"``), or by InstanceNumber (``order="instance_number"``) for series
without positions. Uneven slice spacing and a gantry tilt (positions stepping off the
normal) are noted in one line per series (:attr:`Series.note`): 2-D slices are unaffected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from i2i.data.imageio import DataError
from i2i.medical import dicom_geometry as geo
from i2i.medical.dicom_read import dicom_files, has_pixels, read_header, skip_reason, sop_class_name, transfer_syntax

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

Order = Literal["position", "instance_number"]
ORDER_HINT = 'order the slices by InstanceNumber instead (source.order = "instance_number" in a recipe, ' \
             'order="instance_number" in Python)'
#: Image kinds that are not slices of a volume, from :func:`~i2i.medical.dicom_read.skip_reason`.
NOT_SLICES = ("localizer", "secondary capture")


@dataclass(eq=False)
class Series:
    """One image series of a folder: ``files`` and their headers ``datasets`` in slice order
    (the images of the series' own kind, orientation and size), ``positions`` along the
    normal (None when ordered by InstanceNumber or not orderable), ``spacing`` (slice, row,
    column) in mm (row and column NaN when PixelSpacing is absent), ``left_out`` images of
    another kind, orientation or size with the reason, ``unusable`` files (no pixel data)
    with the reason, ``problem``: why the series cannot become a volume (None when it can),
    ``note`` on its geometry (uneven spacing, gantry tilt) or None. ``kind`` is
    ``"localizer"``, ``"secondary capture"`` or ``"image"``. Series compare by identity."""

    folder: Path
    uid: str
    files: list[Path]
    datasets: list[Dataset] = field(repr=False)
    kind: str = "image"
    positions: np.ndarray | None = None
    spacing: tuple[float, float, float] = (1.0, *geo.UNKNOWN_SPACING)
    left_out: dict[Path, str] = field(default_factory=dict)
    unusable: dict[Path, str] = field(default_factory=dict)
    problem: str | None = None
    note: str | None = None

    @property
    def head(self) -> Dataset:
        """The header of the first slice (the series' shared tags)."""
        return self.datasets[0]

    @property
    def description(self) -> str:
        """SeriesDescription, or ``""``."""
        return str(self.head.get("SeriesDescription", "") or "")

    @property
    def number(self) -> int | None:
        """SeriesNumber, or None."""
        value = self.head.get("SeriesNumber")
        return None if value in (None, "") else int(value)

    @property
    def image_type(self) -> str:
        """The ImageType most of its images have, as DICOM writes it (``ORIGINAL\\PRIMARY\\AXIAL``)."""
        types = Counter("\\".join(map(str, ds.get("ImageType", []) or [])) for ds in self.datasets)
        return types.most_common(1)[0][0]

    @property
    def orientation(self) -> str:
        """``axial``, ``coronal``, ``sagittal``, ``oblique`` or ``unknown``, from the slice normal."""
        return geo.orientation_name(geo.normal(self.head))

    @property
    def derived(self) -> bool:
        """A derived or secondary series (ImageType DERIVED or SECONDARY, e.g. a reformat or an
        i2i output) or a reformat orientation (coronal, sagittal, oblique: CT acquires axial
        slices, gantry tilts included)."""
        value = [str(v).upper() for v in self.head.get("ImageType", []) or []]
        return bool(value[:1] == ["DERIVED"] or "SECONDARY" in value[1:2] or "REFORMATTED" in value
                    or self.orientation in ("coronal", "sagittal", "oblique"))

    @property
    def syntax(self) -> str:
        """The transfer syntax's name (its UID when pydicom does not know it)."""
        uid = transfer_syntax(self.head)
        return str(uid.name) if uid is not None else "unknown"

    @property
    def syntax_keyword(self) -> str:
        """The transfer syntax's short name (``JPEGLosslessSV1``; its UID when pydicom does not know it)."""
        uid = transfer_syntax(self.head)
        return (str(uid.keyword) or str(uid)) if uid is not None else "unknown"

    @property
    def patient(self) -> str:
        """Whom the series images, for hold-out splits: PatientID, else StudyInstanceUID, else ``""``."""
        return str(self.head.get("PatientID", "") or self.head.get("StudyInstanceUID", "") or "")

    @property
    def label(self) -> str:
        """``series NUMBER 'DESCRIPTION' (UID) in FOLDER`` (number and description when it
        has them), to name it in messages."""
        named = self.short.removeprefix("series ") if self.number is not None or self.description else ""
        uid = self.uid or "no SeriesInstanceUID"
        return f"series {named} ({uid}) in {self.folder}" if named else f"series {uid} in {self.folder}"

    @property
    def short(self) -> str:
        """``series 3 'AXIAL HEAD'``: number and description (the UID without them)."""
        parts = [str(self.number) if self.number is not None else "", repr(self.description) if self.description
                 else ""]
        return "series " + (" ".join(p for p in parts if p) or self.uid or "without SeriesInstanceUID")


@dataclass
class Scan:
    """The image series found in a folder and a one-line account of what was left out (or None)."""

    series: list[Series]
    skipped: str | None = None


def scan_folder(folder: str | Path, *, order: Order = "position", seen: dict[str, Path] | None = None) -> Scan:
    """Every image series of ``folder`` (not recursive), from the headers alone. ``seen``
    (SOPInstanceUID -> file), shared by the caller across folders, leaves out copies."""
    folder = Path(folder)
    seen = {} if seen is None else seen
    by_uid: dict[str, list[tuple[Dataset, Path]]] = {}
    left_out: dict[str, list[str]] = {}
    for path in dicom_files(folder):
        ds = read_header(path)
        reason = skip_reason(ds)
        sop = str(ds.get("SOPInstanceUID", "") or "")
        if reason is not None and reason not in NOT_SLICES:
            left_out.setdefault(reason, []).append(path.name)
        elif sop and sop in seen:
            left_out.setdefault("copy of an image already read (same SOPInstanceUID)", []).append(
                f"{path.name} = {seen[sop]}")
        else:
            if sop:
                seen[sop] = path
            by_uid.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append((ds, path))
    skipped = None
    if left_out:
        parts = [f"{len(names)} file{'s' if len(names) > 1 else ''} ({names[0]}{', ...' if len(names) > 1 else ''}): "
                 f"{reason}" for reason, names in left_out.items()]
        skipped = f"{folder}: left out {'; '.join(parts)}"
    found = [build_series(folder, uid, items, order) for uid, items in by_uid.items()]
    return Scan(sorted(found, key=lambda s: (s.number is None, s.number or 0, s.uid)), skipped)


def build_series(folder: Path, uid: str, items: list[tuple[Dataset, Path]], order: Order) -> Series:
    """The series of ``items`` (headers and files of one SeriesInstanceUID): its majority's
    images in slice order, the others left out, and its problem, if any (never raises)."""
    bad = next(((f, problem) for ds, f in items if (problem := geo.header_problem(ds)) is not None), None)
    if bad is not None:  # one bad geometry or rescale tag: the whole series is suspect
        kind = Counter(skip_reason(ds) or "image" for ds, _ in items).most_common(1)[0][0]
        series = Series(folder, uid, [f for _, f in items], [ds for ds, _ in items], kind=kind)
        series.problem = f"{bad[0]}: {bad[1]}; so {series.label} cannot be read"
        return series
    keys = [_image_key(ds) for ds, _ in items]
    majority = Counter(keys).most_common(1)[0][0]
    left_out = {f: _difference(key, majority) for key, (_, f) in zip(keys, items) if key != majority}
    items = [item for key, item in zip(keys, items) if key == majority]
    series = Series(folder, uid, [f for _, f in items], [ds for ds, _ in items], kind=majority[0], left_out=left_out)
    series.unusable = {f: f"no pixel data ({sop_class_name(ds)}, modality {ds.get('Modality', '?')}): not an image"
                       for ds, f in items if not has_pixels(ds)}
    if series.kind != "image":  # projections, captures: not ordered into a volume
        series.spacing = geo.spacing(series.head, None)
        return series
    series.problem = _order(series, items, order)
    return series


def _image_key(ds: Dataset) -> tuple[str, tuple[float, ...] | None, tuple[int, int]]:
    """What the images of one series share: kind, slice normal (rounded) and size; only the
    kind for localizers and secondary captures (not slices: any plane, any size)."""
    kind = skip_reason(ds) or "image"
    if kind != "image":
        return kind, None, (0, 0)
    n = geo.normal(ds)
    normal = tuple(float(v) for v in np.round(n, 2) + 0.0) if n is not None else None
    return kind, normal, (int(ds.get("Rows") or 0), int(ds.get("Columns") or 0))


def _difference(key: tuple, majority: tuple) -> str:
    """Why an image of ``key`` is not one of the series' ``majority`` images."""
    if key[0] != majority[0]:
        return f"a {key[0]} image in a series of {majority[0]} images"
    if key[1] != majority[1]:
        def name(n):
            return geo.orientation_name(np.asarray(n)) if n is not None else "unknown"
        return f"{name(key[1])} orientation in a {name(majority[1])} series"
    return f"{key[2][0]}x{key[2][1]} pixels in a series of {majority[2][0]}x{majority[2][1]} images"


def left_out_line(series: Series) -> str | None:
    """One line naming the images of ``series`` that are not of its kind, orientation or size."""
    if not series.left_out:
        return None
    shown = "; ".join(f"{path.name}: {why}" for path, why in list(series.left_out.items())[:3])
    more = f" and {len(series.left_out) - 3} more" if len(series.left_out) > 3 else ""
    return f"{series.label}: left out {len(series.left_out)} image(s) unlike the rest of the series ({shown}{more})"


def _order(series: Series, items: list[tuple[Dataset, Path]], order: Order) -> str | None:
    """Order ``series`` in place (files, datasets, positions, spacing, note); the reason it
    cannot become a volume, or None."""
    label = series.label
    if len(items) == 1:
        series.spacing = geo.spacing(items[0][0], None)
        return None
    if order == "instance_number":
        missing = next((f for ds, f in items if ds.get("InstanceNumber") in (None, "")), None)
        if missing is not None:
            return (f"{missing}: no InstanceNumber, so {label} cannot be ordered by it; order by position instead "
                    '(source.order = "position")')
        items = sorted(items, key=lambda item: int(item[0].InstanceNumber))
        series.files, series.datasets = [f for _, f in items], [ds for ds, _ in items]
        series.spacing = geo.spacing(items[0][0], None)
        return None
    n = geo.normal(items[0][0])
    missing = next((f for ds, f in items if n is None or "ImagePositionPatient" not in ds), None)
    if missing is not None:
        return (f"{missing}: no ImagePositionPatient or ImageOrientationPatient, so {label} cannot be ordered along "
                f"the slice normal; {ORDER_HINT}")
    positions = np.array([np.dot(np.asarray(ds.ImagePositionPatient, dtype=float), n) for ds, _ in items])
    index = np.argsort(positions, kind="stable")
    items, positions = [items[i] for i in index], positions[index]
    series.files, series.datasets = [f for _, f in items], [ds for ds, _ in items]
    steps = np.diff(positions)
    if np.any(np.abs(steps) < 1e-4):
        i = int(np.argmin(np.abs(steps)))
        return (f"{series.folder}: two slices of {label} at the same position {positions[i]:.3f} mm: "
                f"{items[i][1].name} and {items[i + 1][1].name} (two acquisitions in one series?); {ORDER_HINT}")
    series.positions = positions
    series.spacing = geo.spacing(items[0][0], positions)
    series.note = _geometry_note(label, series.datasets, steps, n)
    return None


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


def check_readable(series: Series) -> None:
    """Raise the reason ``series`` cannot become a volume, naming it, if there is one."""
    if series.problem is not None:
        raise DataError(series.problem)
    if series.kind != "image":
        raise DataError(f"{series.label}: a {series.kind} series ({len(series.files)} image(s)), not slices of a "
                        "volume")
