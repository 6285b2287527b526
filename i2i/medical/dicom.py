"""DICOM CT input and output with pydicom: the entry point of four modules, and series read
as volumes.

:mod:`i2i.medical.dicom_read`    one file: recognised by its ``DICM`` marker, decoded by
                                 pydicom's plugins, HU by the Modality LUT module
:mod:`i2i.medical.dicom_series`  a folder: one series per SeriesInstanceUID, non-image objects
                                 and copies left out, each series checked and ordered
:mod:`i2i.medical.dicom_choice`  which series are used: selected first, then checked
:mod:`i2i.medical.dicom_write`   derived series written beside the source, never over it

:func:`read_dicom` reads a file or a series folder, :func:`read_dicom_series` one series.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from i2i.data.imageio import DataError
from i2i.data.source import warn_once
from i2i.medical import dicom_geometry as geo
from i2i.medical.dicom_choice import SeriesChoice, choose, listing
from i2i.medical.dicom_read import (PIXEL_KEYS, NoRescaleError, decode_pixels, dicom_files, is_dicom,
                                    read_dicom_file, read_dicom_frames, to_hu)
from i2i.medical.dicom_series import Order, Series, check_readable, left_out_line, scan_folder
from i2i.medical.dicom_write import derived_dataset, write_dicom_slices
from i2i.medical.volume import Volume

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["NoRescaleError", "Order", "decode_pixels", "derived_dataset", "dicom_files", "is_dicom", "read_dicom",
           "read_dicom_file", "read_dicom_frames", "read_dicom_series", "scan_folder", "write_dicom_slices"]

SERIES_HINT = ("choose one with source.series (in Python series=): a SeriesInstanceUID, a SeriesNumber or a glob on "
               "SeriesDescription")


def read_dicom(path: str | Path, *, series: str | int | Sequence[str | int] | None = None, order: Order = "position",
               stored_values_as_hu: bool = False) -> Volume:
    """A DICOM file or series folder as a :class:`~i2i.medical.volume.Volume` in HU
    (``series`` chooses in a folder of several; see :func:`read_dicom_series`)."""
    path = Path(path)
    if path.is_dir():
        return read_dicom_series(path, series=series, order=order, stored_values_as_hu=stored_values_as_hu)
    return read_dicom_file(path, stored_values_as_hu=stored_values_as_hu)


def read_dicom_series(folder: str | Path, *, series: str | int | Sequence[str | int] | None = None,
                      order: Order = "position", stored_values_as_hu: bool = False) -> Volume:
    """The one image series in ``folder`` as a :class:`~i2i.medical.volume.Volume` ``(D, H, W)``
    in HU, slices in order. ``series`` chooses when there are several (a SeriesInstanceUID, a
    SeriesNumber or a SeriesDescription glob); localizers, series that cannot be volumes and
    images unlike the rest of their series are left out, one line each. Any modality and
    derived series are read here (the ``ct`` source and ``i2i predict`` choose more strictly)."""
    folder = Path(folder)
    scan = scan_folder(folder, order=order)
    if scan.skipped:
        warn_once(scan.skipped)
    if not scan.series:
        raise DataError(f"{folder}: no DICOM image series in this folder (files are recognised by their 'DICM' "
                        "marker)")
    chosen = choose(scan.series, SeriesChoice.of(series, include_derived=True, ct_only=False,
                                                 given_as="series"), str(folder))
    if not chosen.used:
        raise DataError(f"{folder}: no image series to read; " + "; ".join(chosen.lines))
    if len(chosen.used) > 1:
        raise DataError(f"{folder}: {len(chosen.used)} image series in one folder ({listing(chosen.used)}); "
                        f"{SERIES_HINT}")
    for line in chosen.lines:
        warn_once(line)
    return read_series(chosen.used[0], stored_values_as_hu)


def read_series(one: Series, stored_values_as_hu: bool = False) -> Volume:
    """A checked :class:`~i2i.medical.dicom_series.Series` as a volume (its problem, or an
    unusable file, raised as a DataError naming it)."""
    check_readable(one)
    for line in (left_out_line(one), one.note):
        if line:
            warn_once(line)
    if one.unusable:
        path, reason = next(iter(one.unusable.items()))
        raise DataError(f"{path}: {reason}; {one.label} cannot be read as a volume without it")
    if len(one.files) == 1:
        return read_dicom_file(one.files[0], stored_values_as_hu=stored_values_as_hu)
    multi = [f for ds, f in zip(one.datasets, one.files) if int(ds.get("NumberOfFrames", 1) or 1) > 1]
    if multi:
        raise DataError(f"{multi[0]}: {one.label} has several multi-frame files; read them one by one with "
                        "read_dicom_file")
    hu = np.stack([_read_slice(ds, f, stored_values_as_hu) for ds, f in zip(one.datasets, one.files)])
    heads = one.datasets
    for ds in heads:
        for key in PIXEL_KEYS:
            if key in ds:
                delattr(ds, key)
    return Volume(hu=hu, spacing=one.spacing, paths=list(one.files), kind="dicom", datasets=heads,
                  affine=geo.affine(heads[0], one.spacing, geo.normal(heads[0])), positions=one.positions)


def _read_slice(ds: Dataset, path: Path, stored_values_as_hu: bool = False) -> np.ndarray:
    """One single-frame slice ``(H, W)`` in HU from its header ``ds`` (pixel data deferred)."""
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DataError(f"{path}: colour DICOM ({ds.get('PhotometricInterpretation')}) is not a CT image")
    return to_hu(ds, decode_pixels(ds, path)[None], path, stored_values_as_hu)[0]
