"""DICOM and NIfTI for ``i2i predict``: the :class:`~i2i.data.formats.Format` factories
:func:`dicom` and :func:`nifti`, registered by the built-in ``i2i.formats`` plugin.

DICOM (``.dcm``, ``.dicom``, or any file whose suffix no format owns that has the ``DICM``
marker, e.g. a suffix-less ``IM0001``): a single-frame file is one 2-D image ``(1, H, W)``, float32
HU through its Modality LUT (:func:`~i2i.medical.dicom.read_dicom_frames`); a multi-frame
file is a :class:`~i2i.data.formats.Stack` of its frames, in the file's frame order.
Outputs, in HU (the data units of the CT tasks), are written as derived DICOM
(:func:`~i2i.medical.dicom.derived_dataset`): the input's header (patient, study,
geometry) kept, int16 pixel data through RescaleSlope/RescaleIntercept (re-read values are
within slope / 2 of the prediction), a new SOPInstanceUID and one new SeriesInstanceUID and
SeriesNumber (the source's + 1000) per source series and run, so the predicted files of one
series form one new series. A CT image without rescale tags is refused (its stored values
are not known to be HU).

NIfTI (``.nii``, ``.nii.gz``): a 3-D volume (or 4-D holding one volume) is a Stack of its
slices along the last axis (axial in the usual orientation; the axis CT training slices
too, :meth:`~i2i.medical.volume.Volume.slices`), each ``(1, I, J)`` in the file's voxel
order, no reorientation. The output is a float32 NIfTI with the input's affine and header,
3-D, of the same voxel grid.

Unusable inputs (not DICOM, no pixel data, undecodable, a NIfTI that is not one 3-D volume)
and outputs that cannot be made (a DICOM output of a non-DICOM input, a NIfTI output of a
non-NIfTI input, more than one output channel) are usage errors naming the file.

The DICOM and NIfTI readers are imported inside the functions that use them: the format
table builds every format at start-up, and pydicom and nibabel take seconds to import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from i2i.data.formats import Decoded, Format, Stack, session_state
from i2i.data.imageio import DataError
from i2i.errors import UsageError


def dicom() -> Format:
    """DICOM in HU: single- and multi-frame, recognised by content too; outputs are derived
    copies of the input's header (a new series per source series)."""
    from i2i.medical.dicom_read import is_dicom

    return Format("dicom", (".dcm", ".dicom"), read_dicom_input, write_dicom_output, stacks=True, sniff=is_dicom)


def nifti() -> Format:
    """NIfTI volumes, predicted slice by slice along the last axis and written as float32
    with the input's affine."""
    return Format("nifti", (".nii", ".nii.gz"), read_nifti_input, write_nifti_output, stacks=True)


def read_dicom_input(path: Path) -> Decoded | Stack:
    """A DICOM file: a single frame as a :class:`Decoded` ``(1, H, W)`` HU, several as a
    :class:`Stack` of them; ``meta["dicom"]`` holds the header (no pixel data), ``meta["spacing"]``
    the pixel spacing (row, column mm), which lets predict honour the model's pixel size."""
    from i2i.medical.dicom import NoRescaleError, read_dicom_frames

    with _usage_errors():
        try:
            hu, ds = read_dicom_frames(path)
        except NoRescaleError as exc:
            raise NoRescaleError(f"{exc}; if they are HU, add RescaleIntercept 0 and RescaleSlope 1 to the file "
                                 "(e.g. dcmodify -i \"(0028,1052)=0\" -i \"(0028,1053)=1\" FILE)") from None
    from i2i.medical.dicom_geometry import pixel_measures, pixel_spacing

    known = ds.get("PixelSpacing") or pixel_measures(ds, "PixelSpacing")  # none: no resampling, not a guess
    image, spacing = torch.from_numpy(hu), pixel_spacing(ds) if known else None
    if len(hu) == 1:
        return Decoded(path, image, {"dicom": ds, "spacing": spacing})
    return Stack(path, [Decoded(path, image[i:i + 1], {"spacing": spacing}) for i in range(len(hu))], {"dicom": ds})


def write_dicom_output(path: Path, image: torch.Tensor, like: Decoded | Stack) -> None:
    """Write the HU ``image`` as a derived copy of ``like``'s DICOM header (multi-frame for a
    Stack); the new SeriesInstanceUID is shared by every output of one source series in the
    current :func:`~i2i.data.formats.output_session`."""
    from pydicom.uid import generate_uid

    from i2i.medical.dicom import derived_dataset

    ds = like.meta.get("dicom")
    if ds is None:
        raise UsageError(f"{path}: a DICOM output is a copy of its input's DICOM header, and {like.path} is not "
                         "DICOM; write another format with --ext")
    hu = _one_channel(path, image).numpy()
    series = session_state("dicom")
    source = str(ds.get("SeriesInstanceUID", ""))
    if source not in series:
        series[source] = generate_uid()
    derived_dataset(ds, hu, series[source]).save_as(path, enforce_file_format=True)


def read_nifti_input(path: Path) -> Stack:
    """A NIfTI volume as a :class:`Stack` of its slices along the last axis, each
    ``(1, I, J)``; ``meta["nifti"]`` holds the :class:`~i2i.medical.volume.Volume`."""
    from i2i.medical.nifti import read_nifti

    with _usage_errors():
        volume = read_nifti(path)
    slices = torch.from_numpy(volume.slices())  # (K, I, J), a view
    spacing = tuple(float(z) for i, z in enumerate(volume.spacing) if i != volume.slice_axis)
    return Stack(path, [Decoded(path, slices[k:k + 1], {"spacing": spacing}) for k in range(len(slices))],
                 {"nifti": volume})


def write_nifti_output(path: Path, image: torch.Tensor, like: Decoded | Stack) -> None:
    """Write the slices' outputs ``(K, 1, I, J)`` back in ``like``'s voxel order as float32
    NIfTI with its affine and header."""
    from i2i.medical.nifti import write_nifti

    volume = like.meta.get("nifti")
    if volume is None:
        raise UsageError(f"{path}: a NIfTI output takes its input's affine, and {like.path} is not NIfTI; "
                         "write another format with --ext")
    data = np.moveaxis(_one_channel(path, image).numpy(), 0, volume.slice_axis)
    write_nifti(data, volume.affine, path, header=volume.header, source_paths=[like.path], overwrite=True)


def _one_channel(path: Path, image: torch.Tensor) -> torch.Tensor:
    """``(1, H, W)`` -> ``(H, W)``; ``(D, 1, H, W)`` -> ``(D, H, W)``; more channels fail."""
    if image.shape[-3] != 1:
        raise UsageError(f"{path}: DICOM and NIfTI outputs hold one channel, the model gives {image.shape[-3]}; "
                         "write .npy or .tif with --ext")
    return image.select(-3, 0)


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Unusable medical files given to ``i2i predict`` are bad arguments (exit code 2)."""
    try:
        yield
    except DataError as exc:
        raise UsageError(str(exc)) from None
