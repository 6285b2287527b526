"""Synthetic DICOM for the tests: CT headers, series on disk in any transfer syntax, and a
small JPEG lossless (ITU T.81 process 14) encoder, since no installed library encodes it
(pylibjpeg-libjpeg decodes only): the tests check its output with that independent decoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def jpeg_lossless(image: np.ndarray, predictor: int = 1, precision: int = 16) -> bytes:
    """A greyscale JPEG lossless codestream of ``image`` (2-D unsigned integers below
    ``2**precision``) with first-order ``predictor`` 1 to 7 (1: DICOM's SV1 syntax) and one
    Huffman table of 5-bit codes for the 17 difference categories."""
    x = np.asarray(image, dtype=np.int64)
    rows, cols = x.shape
    a = np.zeros_like(x)  # left
    b = np.zeros_like(x)  # above
    c = np.zeros_like(x)  # above left
    a[:, 1:], b[1:, :], c[1:, 1:] = x[:, :-1], x[:-1, :], x[:-1, :-1]
    predicted = {1: a, 2: b, 3: c, 4: a + b - c, 5: a + ((b - c) >> 1), 6: b + ((a - c) >> 1),
                 7: (a + b) >> 1}[predictor].copy()
    predicted[0, 1:] = x[0, :-1]  # first row: the left neighbour
    predicted[1:, 0] = x[:-1, 0]  # first column: the sample above
    predicted[0, 0] = 1 << (precision - 1)
    diff = (x - predicted) % 65536
    diff = np.where(diff >= 32768, diff - 65536, diff).ravel()
    category = np.where(diff == -32768, 16, np.ceil(np.log2(np.abs(diff) + 1)).astype(np.int64))
    extra = np.where(diff >= 0, diff, diff + (1 << category) - 1) & ((1 << category) - 1)
    extra = np.where(category == 16, 0, extra)
    extra_bits = np.where(category == 16, 0, category)
    value = (category << extra_bits) | extra  # the 5-bit code of category k is k itself
    length = 5 + extra_bits
    bits = np.unpackbits(value.astype(">u4").view(np.uint8).reshape(-1, 4), axis=1)
    stream = bits[np.arange(32)[None, :] >= 32 - length[:, None]]
    stream = np.concatenate([stream, np.ones((-len(stream)) % 8, dtype=np.uint8)])
    data = np.packbits(stream)
    data = np.insert(data, np.flatnonzero(data == 0xFF) + 1, 0)  # byte stuffing
    sof = bytes([precision]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big") + bytes([1, 1, 0x11, 0])
    dht = bytes([0x00]) + bytes([0, 0, 0, 0, 17] + [0] * 11) + bytes(range(17))
    sos = bytes([1, 1, 0x00, predictor, 0, 0])
    return (b"\xff\xd8" + _segment(0xC3, sof) + _segment(0xC4, dht) + _segment(0xDA, sos) + data.tobytes()
            + b"\xff\xd9")


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def ct_dataset(stored: np.ndarray, z: float, number: int, series_uid: str, *, study_uid: str = "1.2.3.4",
               spacing: float = 0.5, intercept: float | None = -1024.0, slope: float | None = 1.0,
               description: str = "AXIAL HEAD", image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL"),
               series_number: int = 3, patient_id: str = "TEST-001"):
    """A CT Image Storage dataset of unsigned 16-bit ``stored`` values at height ``z`` mm
    (explicit VR little endian; ``intercept``/``slope`` None leaves the tag out)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality, ds.PatientID, ds.PatientName = "CT", patient_id, "Test^Head"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, study_uid + ".1"
    ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = series_number, number, description
    ds.ImageType = list(image_type)
    ds.ImagePositionPatient = [-64.0, -64.0, float(z)]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = 2.5
    if intercept is not None:
        ds.RescaleIntercept = intercept
    if slope is not None:
        ds.RescaleSlope = slope
    ds.set_pixel_data(np.ascontiguousarray(stored, dtype=np.uint16), "MONOCHROME2", 16,
                      generate_instance_uid=False)
    return ds


def compress_jpeg_lossless(ds, predictor: int = 1) -> None:
    """Replace ``ds``'s uncompressed pixel data by JPEG lossless (SV1 for predictor 1, else process 14)."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLossless, JPEGLosslessSV1

    ds.PixelData = encapsulate([jpeg_lossless(ds.pixel_array, predictor, int(ds.BitsStored))])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1 if predictor == 1 else JPEGLossless


def head_volume(slices: int = 3, size: int = 64) -> np.ndarray:
    """Whole HU ``(slices, size, size)``: air, a head of brain tissue (35 HU), a skull ring of
    1200 to 3000 HU (cortical bone, dense up to metal-like) and a ventricle (5 HU)."""
    yy, xx = np.mgrid[:size, :size] / (size - 1) * 2 - 1
    r = np.hypot(xx, yy * 1.15)
    out = np.full((slices, size, size), -1000.0)
    for k in range(slices):
        out[k][r < 0.85] = 1200 + 1800 * np.clip((0.85 - r[r < 0.85]) / 0.1, 0, 1)
        out[k][r < 0.75] = 35 + 3 * k
        out[k][np.hypot(xx - 0.1, yy) < 0.15] = 5
    return np.rint(out).astype(np.float32)


def write_series(folder: Path, hu: np.ndarray, *, names: list[str] | None = None, predictor: int | None = 1,
                 first_z: float = 0.0, step: float = 2.5, **header) -> list[Path]:
    """``hu`` ``(D, H, W)`` as a CT series in ``folder`` (stored = HU + 1024, intercept -1024),
    JPEG lossless with ``predictor`` (None: uncompressed), file names ``names`` (default
    ``IM0001``..., no suffix), slice ``k`` at ``first_z + step * k`` mm. Returns the paths."""
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series_uid = header.pop("series_uid", None) or generate_uid()
    names = names or [f"IM{k + 1:04d}" for k in range(len(hu))]
    paths = []
    for k, (image, name) in enumerate(zip(hu, names)):
        ds = ct_dataset(np.rint(image + 1024).astype(np.uint16), first_z + step * k, k + 1, series_uid, **header)
        if predictor is not None:
            compress_jpeg_lossless(ds, predictor)
        ds.save_as(folder / name, enforce_file_format=True)
        paths.append(folder / name)
    return paths


#: ImageOrientationPatient of the slice planes (row direction, column direction).
AXIAL, CORONAL, SAGITTAL = [1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, -1], [0, 1, 0, 0, 0, -1]


def scanner_export(folder: Path, size: int = 32) -> dict[int, list[Path]]:
    """A head CT folder as a GE scanner exports it: suffix-less JPEG lossless files, no
    SeriesDescription, one patient, five series by SeriesNumber: 1 two localizers (AP and
    lateral), 2 an axial 5 mm series (6 slices), 3 an axial 2.5 mm series (11 slices over the
    same 25 mm, its first slice all air), 4 a coronal reformat (8 images, DERIVED\\SECONDARY,
    plus one axial reference image), 5 a sagittal reformat (8 images plus one coronal
    reference image). Returns the files of each series."""
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    reformat = ("DERIVED", "SECONDARY", "REFORMATTED")
    plan = {1: [("ORIGINAL", "PRIMARY", "LOCALIZER"), [CORONAL, SAGITTAL], None],
            2: [("ORIGINAL", "PRIMARY", "AXIAL"), [AXIAL] * 6, 5.0],
            3: [("ORIGINAL", "PRIMARY", "AXIAL"), [AXIAL] * 11, 2.5],
            4: [reformat, [CORONAL] * 8 + [AXIAL], 3.0],
            5: [reformat, [SAGITTAL] * 8 + [CORONAL], 3.0]}
    hu = head_volume(11, size)
    hu[0] = -1000.0  # the 2.5 mm series starts in the air above the head
    files: dict[int, list[Path]] = {}
    counter = 0
    for number, (image_type, planes, step) in plan.items():
        uid = generate_uid()
        files[number] = []
        for k, plane in enumerate(planes):
            counter += 1
            image = hu[k] if number == 3 else hu[min(k + 1, 10)]
            ds = ct_dataset(np.rint(image + 1024).astype(np.uint16), (step or 0) * k, k + 1, uid,
                            image_type=image_type, series_number=number)
            del ds.SeriesDescription
            ds.BodyPartExamined, ds.StudyDescription = "HEAD", "CT HEAD W/O"
            ds.ImageOrientationPatient = plane
            normal = np.cross(plane[:3], plane[3:])
            ds.ImagePositionPatient = [float(v) for v in np.array([-8.0, -8.0, 0.0]) + normal * (step or 0) * k]
            compress_jpeg_lossless(ds)
            path = folder / f"I{counter}"
            ds.save_as(path, enforce_file_format=True)
            files[number].append(path)
    return files
