"""DICOM image geometry: slice normals, positions along them, pixel and slice spacing, the
index -> patient affine, and the functional groups of enhanced multi-frame files."""

from __future__ import annotations

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


def pixel_spacing(ds: Dataset) -> tuple[float, float]:
    """(row, column) spacing in mm: PixelSpacing, or the functional groups', else 1 mm."""
    pixel = ds.get("PixelSpacing") or pixel_measures(ds, "PixelSpacing") or (1.0, 1.0)
    return float(pixel[0]), float(pixel[1])


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
