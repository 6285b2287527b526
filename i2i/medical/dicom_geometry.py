"""DICOM image geometry: slice normals, positions along them, pixel and slice spacing, the
index -> patient affine, the orientation's name, the functional groups of enhanced
multi-frame files, and the checks that make bad geometry tags a clear error.

A missing PixelSpacing means an unknown pixel size (NaN here, never 1 mm): such a slice is
not resampled to a model's pixel size and not recorded in a model's geometry. A present one
must hold two positive finite numbers (:func:`header_problem`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def functional(ds: Dataset, frame: int, sequence: str) -> Any:
    """The first item of ``sequence`` for ``frame`` from the per-frame, else shared, functional groups."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if items and index < len(items):
            found = items[index].get(sequence)
            if found:
                return found[0]
    return None


def normal(ds: Any) -> np.ndarray | None:
    """The slice normal (row direction x column direction of ImageOrientationPatient), or None."""
    iop = ds.get("ImageOrientationPatient") if ds is not None else None
    if iop is None or len(iop) != 6:
        return None
    row, col = np.asarray(iop[:3], dtype=float), np.asarray(iop[3:], dtype=float)
    return np.cross(row, col)


def frame_positions(ds: Dataset) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Positions along the normal of the frames of a multi-frame file (None when unknown), and the normal."""
    frames = int(ds.NumberOfFrames)
    orient = functional(ds, 0, "PlaneOrientationSequence")
    n = normal(orient) if orient is not None else normal(ds)
    points = [functional(ds, i, "PlanePositionSequence") for i in range(frames)]
    if n is None or any(p is None or "ImagePositionPatient" not in p for p in points):
        return None, n
    return np.array([np.dot(np.asarray(p.ImagePositionPatient, dtype=float), n) for p in points]), n


#: The unknown pixel spacing of a slice without PixelSpacing: (NaN, NaN).
UNKNOWN_SPACING = (math.nan, math.nan)
#: Patient axes (LPS) by the name of the orientation whose slice normal points along them.
_ORIENTATIONS = ("sagittal", "coronal", "axial")
#: A normal less aligned than this with its nearest patient axis (37 degrees off) is oblique;
#: a gantry tilt of up to 30 degrees keeps an axial series axial.
_OBLIQUE_BELOW = 0.8


def pixel_spacing(ds: Dataset) -> tuple[float, float]:
    """(row, column) spacing in mm: PixelSpacing, or the functional groups', else
    :data:`UNKNOWN_SPACING` (NaN: not a guess)."""
    pixel = pixel_spacing_tag(ds)
    if pixel is None:
        return UNKNOWN_SPACING
    return float(pixel[0]), float(pixel[1])


def pixel_spacing_tag(ds: Dataset) -> Any:
    """The PixelSpacing value as stored (the functional groups' when the top level has
    none), or None when there is none."""
    pixel = ds.get("PixelSpacing")
    if pixel is None or pixel == "":
        pixel = pixel_measures(ds, "PixelSpacing")
    return None if pixel is None or pixel == "" else pixel


def orientation_name(n: np.ndarray | None) -> str:
    """``axial``, ``coronal`` or ``sagittal`` by the patient axis the slice normal ``n`` is
    nearest to, ``oblique`` when it is near none, ``unknown`` without a normal."""
    if n is None or not np.all(np.isfinite(n)) or not np.linalg.norm(n):
        return "unknown"
    n = np.abs(n) / np.linalg.norm(n)
    return _ORIENTATIONS[int(np.argmax(n))] if n.max() >= _OBLIQUE_BELOW else "oblique"


def header_problem(ds: Dataset) -> str | None:
    """What is wrong with ``ds``'s geometry or rescale tags, naming the tag, the value and
    what is accepted; None when they are usable (absent tags are not a problem here)."""
    checks = (("PixelSpacing", pixel_spacing_tag(ds), 2, "> 0",
               "two positive numbers, the row and column spacing in mm"),
              ("ImagePositionPatient", ds.get("ImagePositionPatient"), 3, "any",
               "three numbers, the x, y, z of the first pixel in mm"),
              ("ImageOrientationPatient", ds.get("ImageOrientationPatient"), 6, "any",
               "six numbers, the row and column direction cosines"))
    for tag, value, count, bound, accepted in checks:
        if value is None or value == "":
            continue
        values = numbers(value)
        bad = values is None or len(values) != count or not all(map(math.isfinite, values)) \
            or (bound == "> 0" and min(values) <= 0)
        if bad:
            return f"{tag} is {_shown(value)}: expected {accepted}"
    iop = ds.get("ImageOrientationPatient")
    if iop:
        row, col = np.asarray(iop[:3], dtype=float), np.asarray(iop[3:], dtype=float)
        if min(np.linalg.norm(row), np.linalg.norm(col)) < 1e-3 or np.linalg.norm(np.cross(row, col)) < 1e-3:
            return (f"ImageOrientationPatient is {_shown(iop)}: the row and column directions must be two "
                    "non-zero, non-parallel unit vectors (e.g. 1\\0\\0\\0\\1\\0 for an axial slice)")
    for tag, nonzero in (("RescaleSlope", True), ("RescaleIntercept", False)):
        value = ds.get(tag)
        if value is None or value == "":
            continue
        number = numbers([value])
        if number is None or not math.isfinite(number[0]) or (nonzero and number[0] == 0):
            return (f"{tag} is {_shown(value)}: expected a finite number{' other than 0' if nonzero else ''} "
                    "(HU = stored value x RescaleSlope + RescaleIntercept)")
    return None


def numbers(value: Any) -> list[float] | None:
    """A tag's value(s) as floats, or None when one is not a number."""
    items = list(value) if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)) else [value]
    try:
        return [float(v) for v in items]
    except (TypeError, ValueError):
        return None


def _shown(value: Any) -> str:
    """A tag's value as DICOM writes it (``0.5\\0.5``)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return str(value)
    return "\\".join(str(v) for v in value)


def spacing(first: Dataset, positions: np.ndarray | None) -> tuple[float, float, float]:
    """(slice, row, column) spacing in mm; the slice spacing is the median step of
    ``positions`` when there are two or more, else SpacingBetweenSlices or SliceThickness."""
    if positions is not None and len(positions) > 1:
        dz = float(np.median(np.diff(positions)))
    else:
        dz = first.get("SpacingBetweenSlices") or first.get("SliceThickness") or \
             pixel_measures(first, "SliceThickness") or 1.0
    return (float(dz), *pixel_spacing(first))


def pixel_measures(ds: Dataset, key: str) -> Any:
    """``key`` of the PixelMeasuresSequence of the functional groups (frame 0), or None."""
    item = functional(ds, 0, "PixelMeasuresSequence")
    return item.get(key) if item is not None else None


def affine(ds: Dataset, spacing_mm: tuple[float, float, float], n: np.ndarray | None) -> np.ndarray | None:
    """Index (slice, row, column) -> LPS mm, from the first slice's position and orientation."""
    iop = ds.get("ImageOrientationPatient")
    ipp = ds.get("ImagePositionPatient")
    if iop is None or ipp is None or n is None:
        return None
    out = np.eye(4)
    out[:3, 0] = n * spacing_mm[0]
    out[:3, 1] = np.asarray(iop[3:], dtype=float) * spacing_mm[1]  # down the rows
    out[:3, 2] = np.asarray(iop[:3], dtype=float) * spacing_mm[2]  # along a row
    out[:3, 3] = np.asarray(ipp, dtype=float)
    return out


def tilt_degrees(first: Dataset, last: Dataset, n: np.ndarray) -> float:
    """The angle between the slice normal and the line from the first slice's position to
    the last's: 0 for an ordinary stack, the gantry tilt for a tilted acquisition."""
    step = np.asarray(last.ImagePositionPatient, dtype=float) - np.asarray(first.ImagePositionPatient, dtype=float)
    length = float(np.linalg.norm(step)) * float(np.linalg.norm(n))
    if length == 0:
        return 0.0
    cosine = abs(float(np.dot(step, n))) / length
    return float(np.degrees(np.arccos(min(1.0, cosine))))
