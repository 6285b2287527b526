"""Reading one DICOM file: recognising it, its header, its pixel data decoded, and HU.

Files are recognised by the ``DICM`` marker after the 128-byte preamble (:func:`is_dicom`),
whatever their name. Pixel data decode through pydicom's decoder plugins; i2i's install
brings pylibjpeg with its libjpeg (JPEG baseline, extended, lossless processes 14 and
14 SV1, JPEG-LS), openjpeg (JPEG 2000, HTJ2K) and rle plugins, and pydicom itself reads the
uncompressed, deflated and RLE syntaxes. A compressed syntax no installed plugin decodes is
a :class:`~i2i.data.imageio.DataError` naming the file, the syntax and what to install.

HU follow the Modality LUT module of the standard (PS3.3 C.11.1): a Modality LUT Sequence
through pydicom's ``apply_modality_lut``; otherwise ``stored * RescaleSlope +
RescaleIntercept`` where an absent RescaleSlope means 1 and an absent RescaleIntercept 0
(pydicom's ``apply_modality_lut`` applies neither unless both are present, so it is not
used for them). Enhanced multi-frame files take each frame's rescale from its functional
groups. A CT image with no rescale at all is refused (:class:`NoRescaleError`) unless the
caller accepts its stored values as HU.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from i2i.data.imageio import DataError
from i2i.medical import dicom_geometry as geo
from i2i.medical.volume import Volume

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

PIXEL_KEYS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: The packages (declared by i2i) whose pylibjpeg plugin decodes each family of syntaxes.
_PLUGINS = {"JPEG 2000": "pylibjpeg pylibjpeg-openjpeg", "High-Throughput JPEG 2000": "pylibjpeg pylibjpeg-openjpeg",
            "RLE": "pylibjpeg pylibjpeg-rle", "JPEG": "pylibjpeg pylibjpeg-libjpeg"}
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
_LOCALIZER_TYPES = {"LOCALIZER", "SCOUT", "TOPOGRAM", "SURVIEW", "SCANOGRAM"}


class NoRescaleError(DataError):
    """A CT image without RescaleSlope/RescaleIntercept or a Modality LUT: its stored values
    are not known to be HU. Callers add how their users accept them (an option's name)."""


def is_dicom(path: str | Path) -> bool:
    """A DICOM Part-10 file: the ``DICM`` marker after the 128-byte preamble."""
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False


def dicom_files(folder: Path) -> list[Path]:
    """The DICOM files of ``folder`` (not recursive, hidden files left out), by the ``DICM``
    marker whatever their names, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and is_dicom(p))


def read_header(path: Path) -> Dataset:
    """``path``'s dataset with large values (the pixel data) left on disk until used."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, defer_size="4 KB")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except InvalidDicomError as exc:
        raise DataError(f"{path}: not a DICOM file ({exc})") from None
    except Exception as exc:
        raise DataError(f"{path}: unreadable DICOM file (truncated or corrupt?): {type(exc).__name__}: {exc}") from None


def has_pixels(ds: Dataset) -> bool:
    """Whether ``ds`` holds pixel data."""
    return any(key in ds for key in PIXEL_KEYS)


def sop_class(ds: Dataset) -> str:
    """The SOPClassUID, else the file meta's MediaStorageSOPClassUID, else ``""``."""
    meta = getattr(ds, "file_meta", None)
    return str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta is not None else "") or "")


def sop_class_name(ds: Dataset) -> str:
    """The SOP class's name (e.g. ``CT Image Storage``), else its UID, else ``unknown SOP class``."""
    from pydicom.uid import UID

    sop = sop_class(ds)
    return str(UID(sop).name) if sop else "unknown SOP class"


def skip_reason(ds: Dataset) -> str | None:
    """Why ``ds`` is not a slice of an image series to read, or None when it is one:
    ``"non-image object (<SOP class>)"`` (RT Plan, SR, presentation states, DICOMDIR...),
    ``"secondary capture"`` or ``"localizer"``."""
    sop = sop_class(ds)
    name = sop_class_name(ds)
    if sop and "Image Storage" not in name:
        return f"non-image object ({name})"
    if sop.startswith(_SECONDARY_CAPTURE):
        return "secondary capture"
    if _LOCALIZER_TYPES & {str(v).upper() for v in ds.get("ImageType", []) or []}:
        return "localizer"
    if not sop and not has_pixels(ds):
        return "non-image object (no SOP class, no pixel data)"
    return None


def read_dicom_frames(path: str | Path, *, stored_values_as_hu: bool = False) -> tuple[np.ndarray, Dataset]:
    """One DICOM file's frames ``(F, H, W)`` in HU in the file's own frame order (``F`` is 1
    for a single-frame file) and its header without the pixel data.
    ``stored_values_as_hu`` accepts a CT image without rescale tags (else :class:`NoRescaleError`)."""
    path = Path(path)
    ds = read_header(path)
    problem = geo.header_problem(ds)
    if problem is not None:
        raise DataError(f"{path}: {problem}")
    if not has_pixels(ds):
        raise DataError(f"{path}: no pixel data ({sop_class_name(ds)}, modality {ds.get('Modality', '?')}): "
                        "not an image")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DataError(f"{path}: colour DICOM ({ds.get('PhotometricInterpretation')}) is not a CT image")
    pixels = decode_pixels(ds, path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames == 1:
        pixels = pixels[None]
    hu = to_hu(ds, pixels, path, stored_values_as_hu)
    for key in PIXEL_KEYS:
        if key in ds:
            delattr(ds, key)
    return hu, ds


def read_dicom_file(path: str | Path, *, stored_values_as_hu: bool = False) -> Volume:
    """One DICOM file: a single slice ``(1, H, W)`` or all frames of a multi-frame file
    ``(F, H, W)`` sorted along the slice normal, as a :class:`~i2i.medical.volume.Volume` in HU."""
    path = Path(path)
    hu, ds = read_dicom_frames(path, stored_values_as_hu=stored_values_as_hu)
    if hu.shape[0] > 1:
        positions, n = geo.frame_positions(ds)
    else:
        positions, n = None, geo.normal(ds)
    if positions is not None:
        order = np.argsort(positions, kind="stable")
        hu, positions = hu[order], positions[order]
    spacing = geo.spacing(ds, positions)
    return Volume(hu=np.ascontiguousarray(hu), spacing=spacing, paths=[path], kind="dicom", datasets=[ds],
                  affine=geo.affine(ds, spacing, n), positions=positions)


def decode_pixels(ds: Dataset, path: Path) -> np.ndarray:
    """The stored pixel values of ``ds`` as pydicom decodes them (``(H, W)``, ``(F, H, W)``,
    with samples last for colour). Fails naming the file and the transfer syntax when it
    cannot be decoded here (:func:`syntax_problem`), or when decoding fails."""
    problem = syntax_problem(ds)
    if problem is not None:
        raise DataError(f"{path}: {problem}")
    syntax = transfer_syntax(ds)
    name = f"{getattr(syntax, 'name', syntax)} ({syntax})" if syntax else "an unknown transfer syntax"
    try:
        return ds.pixel_array
    except Exception as exc:
        raise DataError(f"{path}: cannot decode its pixel data ({name}): {type(exc).__name__}: {exc}; the file may "
                        "be truncated or corrupt: copy or export it again") from None


def transfer_syntax(ds: Dataset):
    """The file meta's TransferSyntaxUID (a pydicom ``UID``), or None."""
    meta = getattr(ds, "file_meta", None)
    return meta.get("TransferSyntaxUID") if meta is not None else None


@functools.cache
def supported_syntaxes() -> tuple[str, ...]:
    """The names of the transfer syntaxes an installed pydicom decoder reads."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import AllTransferSyntaxes

    names = []
    for uid in AllTransferSyntaxes:
        try:
            if get_decoder(uid).is_available:
                names.append(str(uid.name))
        except NotImplementedError:
            continue
    return tuple(names)


def syntax_problem(ds: Dataset) -> str | None:
    """Why ``ds``'s pixel data cannot be decoded here, from its transfer syntax alone (a
    syntax pydicom does not know, one no pydicom decoder reads, one whose plugin is not
    installed), saying what to do; None when they can."""
    syntax = transfer_syntax(ds)
    if syntax is None:
        return None
    if not syntax.is_transfer_syntax:
        return (f"its pixel data are encoded in transfer syntax {syntax}, which pydicom does not know (a private or "
                f"newer syntax); i2i reads {', '.join(supported_syntaxes())}; convert the file to one of them first "
                "(e.g. gdcmconv --raw IN OUT, or dcmtk's dcmconv)")
    name = f"{syntax.name} ({syntax})"
    if not syntax.is_compressed:
        return None
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        return (f"its pixel data are compressed as {name}, which no pydicom decoder reads; convert the file to an "
                "uncompressed transfer syntax first (e.g. gdcmconv --raw IN OUT, or dcmtk's dcmdjpeg/dcmdjpls)")
    if decoder.is_available:
        return None
    family = next((key for key in _PLUGINS if str(syntax.name).startswith(key)), "JPEG")
    others = "; ".join(decoder.missing_dependencies)
    return (f"its pixel data are compressed as {name}, and no installed pydicom plugin decodes it; install i2i's "
            f"decoders: pip install {_PLUGINS[family]}" + (f" (other plugins that would: {others})" if others else ""))


def modality_problem(ds: Dataset) -> str | None:
    """Why ``ds`` is not read as a CT image in HU, or None: only CT is (Modality CT, or no
    Modality with a CT image SOP class or a CT-like rescale: RescaleType HU or an intercept
    of about -1000)."""
    modality = str(ds.get("Modality", "") or "").upper()
    if modality == "CT":
        return None
    if not modality:
        intercept = geo.numbers([ds.get("RescaleIntercept", "")]) or [0.0]
        ct_like = "CT Image Storage" in sop_class_name(ds) or str(ds.get("RescaleType", "")).upper() == "HU" or \
            -1100 <= intercept[0] <= -900
        return None if ct_like else "no Modality and no CT-like rescale: not known to be CT"
    return f"modality {modality} ({sop_class_name(ds)}), not CT: its values are not HU"


def to_hu(ds: Dataset, pixels: np.ndarray, path: Path, stored_values_as_hu: bool = False) -> np.ndarray:
    """Frames ``(F, H, W)`` of stored values -> float32 HU by the Modality LUT module
    (see the module docstring); enhanced files rescale each frame by its functional groups."""
    from pydicom.pixels import apply_modality_lut

    if ds.get("ModalityLUTSequence"):
        return np.asarray(apply_modality_lut(pixels, ds), dtype=np.float32)
    rescale = _rescale_of(ds)
    if rescale is not None:
        return _apply(pixels, *rescale)
    frames = [geo.functional(ds, i, "PixelValueTransformationSequence") for i in range(pixels.shape[0])]
    if any(item is not None and _rescale_of(item) is not None for item in frames):
        return np.stack([_apply(frame, *(_rescale_of(item) or (1.0, 0.0)) if item is not None else (1.0, 0.0))
                         for frame, item in zip(pixels, frames)])
    if _is_ct(ds) and not stored_values_as_hu:
        raise NoRescaleError(f"{path}: a CT image without RescaleIntercept/RescaleSlope (or a Modality LUT): its "
                             f"stored values ({int(pixels.min())} to {int(pixels.max())}) are not known to be HU")
    return pixels.astype(np.float32)


def _rescale_of(item: Dataset) -> tuple[float, float] | None:
    """(slope, intercept) when either tag has a value (the other taking 1 or 0), else None."""
    slope, intercept = item.get("RescaleSlope"), item.get("RescaleIntercept")
    if slope in (None, "") and intercept in (None, ""):
        return None
    return float(1.0 if slope in (None, "") else slope), float(0.0 if intercept in (None, "") else intercept)


def _apply(pixels: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    return (pixels.astype(np.float64) * slope + intercept).astype(np.float32)


def _is_ct(ds: Dataset) -> bool:
    return str(ds.get("Modality", "")).upper() == "CT" or "CT Image Storage" in sop_class_name(ds)
