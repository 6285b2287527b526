"""DICOM CT input and output with pydicom: the entry point of three modules.

:mod:`i2i.medical.dicom_read`    one file: recognised by its ``DICM`` marker, decoded by
                                 pydicom's plugins, HU by the Modality LUT module
:mod:`i2i.medical.dicom_series`  a folder: one series per SeriesInstanceUID, localizers and
                                 non-image objects left out, slices along the normal
:mod:`i2i.medical.dicom_write`   derived series written beside the source, never over it

:func:`read_dicom` reads a file or a series folder.
"""

from __future__ import annotations

from pathlib import Path

from i2i.medical.dicom_read import (NoRescaleError, decode_pixels, dicom_files, is_dicom, read_dicom_file,
                                    read_dicom_frames)
from i2i.medical.dicom_series import Order, read_dicom_series, scan_folder
from i2i.medical.dicom_write import derived_dataset, write_dicom_slices
from i2i.medical.volume import Volume

__all__ = ["NoRescaleError", "Order", "decode_pixels", "derived_dataset", "dicom_files", "is_dicom", "read_dicom",
           "read_dicom_file", "read_dicom_frames", "read_dicom_series", "scan_folder", "write_dicom_slices"]


def read_dicom(path: str | Path, *, series: str | None = None, order: Order = "position",
               stored_values_as_hu: bool = False) -> Volume:
    """A DICOM file or series folder as a :class:`~i2i.medical.volume.Volume` in HU
    (``series`` chooses in a folder of several; see :func:`read_dicom_series`)."""
    path = Path(path)
    if path.is_dir():
        return read_dicom_series(path, series=series, order=order, stored_values_as_hu=stored_values_as_hu)
    return read_dicom_file(path, stored_values_as_hu=stored_values_as_hu)
