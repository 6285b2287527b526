"""Every common DICOM encoding decodes in the default install (pydicom + pylibjpeg with its
libjpeg, openjpeg and rle plugins), checked on pydicom's own test files (those shipped inside
the pydicom package: nothing is downloaded) against the uncompressed reference where pydicom
ships one, and on synthetic 16-bit CT encoded here, against the exact HU. A compressed
syntax that no installed plugin decodes is a clear error naming the file, the syntax and
what to install."""

from __future__ import annotations

import io

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")

from pydicom import uid  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402

from i2i.data.imageio import DataError  # noqa: E402
from i2i.medical.dicom import decode_pixels, read_dicom_file, read_dicom_frames  # noqa: E402
from tests.dicom_fixtures import compress_jpeg_lossless, ct_dataset, head_volume, jpeg_lossless  # noqa: E402


def shipped(name: str):
    """A test file that ships inside the pydicom package (never downloaded)."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom does not ship {name}")
    return path


def stored(name: str) -> np.ndarray:
    path = shipped(name)
    return decode_pixels(pydicom.dcmread(path), path)


# (file, its transfer syntax, the uncompressed reference of the same image)
LOSSLESS = [
    ("MR_small_implicit.dcm", uid.ImplicitVRLittleEndian, "MR_small.dcm"),
    ("MR_small_bigendian.dcm", uid.ExplicitVRBigEndian, "MR_small.dcm"),
    ("MR_small_RLE.dcm", uid.RLELossless, "MR_small.dcm"),
    ("MR_small_jpeg_ls_lossless.dcm", uid.JPEGLSLossless, "MR_small.dcm"),
    ("MR_small_jp2klossless.dcm", uid.JPEG2000Lossless, "MR_small.dcm"),
    ("SC_rgb_jpeg_gdcm.dcm", uid.JPEGLosslessSV1, "SC_rgb_rle.dcm"),  # the same RGB image, RLE-coded
    ("rtdose_rle.dcm", uid.RLELossless, "rtdose.dcm"),  # 32-bit, 15 frames
]


@pytest.mark.parametrize(("name", "syntax", "reference"), LOSSLESS, ids=[n for n, _, _ in LOSSLESS])
def test_lossless_encodings_of_pydicom_test_files_are_exact(name, syntax, reference):
    assert pydicom.dcmread(shipped(name), stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    assert np.array_equal(stored(name), stored(reference))


def test_explicit_little_endian_and_deflated_read_as_hu():
    ct = read_dicom_file(shipped("CT_small.dcm"))  # explicit VR little endian, 128 x 128 CT
    ds = pydicom.dcmread(shipped("CT_small.dcm"))
    assert ds.file_meta.TransferSyntaxUID == uid.ExplicitVRLittleEndian
    assert np.array_equal(ct.hu[0], ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
    deflated = pydicom.dcmread(shipped("image_dfl.dcm"))
    assert deflated.file_meta.TransferSyntaxUID == uid.DeflatedExplicitVRLittleEndian
    pixels = decode_pixels(deflated, shipped("image_dfl.dcm"))
    assert pixels.shape == (512, 512) and pixels.dtype == np.uint8 and 0 < pixels.mean() < 255


def test_jpeg_baseline_agrees_with_pillow_and_rle():
    """JPEG baseline (process 1), decoded by pylibjpeg-libjpeg: the same codestream through
    Pillow's libjpeg-turbo agrees within one level; the RLE copy of the image within one."""
    path = shipped("SC_rgb_dcmtk_+eb+cr.dcm")
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == uid.JPEGBaseline8Bit
    ours = decode_pixels(ds, path)
    from PIL import Image
    from pydicom.encaps import generate_frames

    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    pillow = np.asarray(Image.open(io.BytesIO(frame)).convert("RGB"))
    assert ours.shape == (100, 100, 3)
    assert np.abs(ours.astype(int) - pillow).max() <= 1
    assert np.abs(ours.astype(int) - stored("SC_rgb_rle.dcm")).max() <= 1


def test_jpeg_extended_12_bit_agrees_with_the_jpeg_2000_copy():
    """JPEG extended (process 2/4, 12-bit) has no uncompressed copy in pydicom; its JPEG 2000
    copy (both lossy, of one image) agrees to a few levels in 0..264."""
    extended, j2k = stored("JPGExtended.dcm"), stored("JPEG2000.dcm")
    assert pydicom.dcmread(shipped("JPGExtended.dcm")).file_meta.TransferSyntaxUID == uid.JPEGExtended12Bit
    assert extended.shape == j2k.shape == (1024, 256)
    assert np.abs(extended.astype(float) - j2k).mean() < 6
    assert np.corrcoef(extended.ravel(), j2k.ravel())[0, 1] > 0.9


def test_jpeg_ls_near_lossless_and_jpeg_2000_ct_decode():
    near = stored("JPEGLSNearLossless_16.dcm")
    assert near.shape == (50, 10) and near.dtype == np.uint16
    ct = read_dicom_file(shipped("693_J2KI.dcm"))  # a lossy JPEG 2000 CT, 512 x 512
    assert ct.shape == (1, 512, 512) and ct.hu.max() > 500
    assert -1100 < np.median(ct.hu[0, 156:356, 156:356]) < 200  # tissue in the middle, in HU


def synthetic_ct():
    stored_values = np.rint(head_volume(1, 64)[0] + 1024).astype(np.uint16)
    return ct_dataset(stored_values, 0.0, 1, uid.generate_uid()), stored_values.astype(np.float32) - 1024


@pytest.mark.parametrize("syntax", [uid.ImplicitVRLittleEndian, uid.DeflatedExplicitVRLittleEndian, uid.RLELossless,
                                    uid.JPEG2000Lossless, uid.JPEGLosslessSV1, uid.JPEGLossless],
                         ids=lambda s: s.name)
def test_synthetic_16_bit_ct_round_trips_exactly(tmp_path, syntax):
    """16-bit CT with bone up to 3000 HU, encoded here in each lossless syntax."""
    ds, hu = synthetic_ct()
    if syntax == uid.ImplicitVRLittleEndian or syntax == uid.DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
    elif syntax in (uid.JPEGLosslessSV1, uid.JPEGLossless):
        compress_jpeg_lossless(ds, predictor=1 if syntax == uid.JPEGLosslessSV1 else 6)
    else:
        ds.compress(syntax)  # pydicom's RLE encoder, pylibjpeg-openjpeg's JPEG 2000 encoder
    path = tmp_path / "slice"
    ds.save_as(path, enforce_file_format=True)
    assert pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    got, header = read_dicom_frames(path)
    assert np.array_equal(got[0], hu) and got.max() > 2900
    assert "PixelData" not in header


@pytest.mark.parametrize("predictor", range(1, 8))
def test_the_test_jpeg_lossless_encoder_is_exact_with_every_predictor(predictor):
    """The encoder in tests/dicom_fixtures.py, checked with pylibjpeg-libjpeg's decoder."""
    from libjpeg import decode

    image = np.random.default_rng(predictor).integers(0, 65536, (23, 31)).astype(np.uint16)
    assert np.array_equal(decode(jpeg_lossless(image, predictor)), image)


def relabelled(tmp_path, syntax) -> str:
    """pydicom's JPEG 2000 lossless MR slice relabelled as ``syntax``."""
    ds = pydicom.dcmread(shipped("MR_small_jp2klossless.dcm"))
    ds.file_meta.TransferSyntaxUID = syntax
    path = tmp_path / "relabelled.dcm"
    ds.save_as(path)
    return path


def test_a_syntax_without_any_decoder_is_named(tmp_path):
    path = relabelled(tmp_path, uid.UID("1.2.840.10008.1.2.4.92"))
    with pytest.raises(DataError, match=r"relabelled\.dcm: its pixel data are compressed as JPEG 2000 Part 2 "
                                        r"Multi-component .*\(1\.2\.840\.10008\.1\.2\.4\.92\), which no pydicom "
                                        r"decoder reads; convert the file to an uncompressed transfer syntax"):
        read_dicom_file(path)


def test_a_missing_plugin_says_what_to_install(tmp_path, monkeypatch):
    from pydicom.pixels.decoders.base import Decoder

    monkeypatch.setattr(Decoder, "is_available", property(lambda self: False))
    with pytest.raises(DataError, match=r"compressed as JPEG 2000 Image Compression \(Lossless Only\) .*no installed "
                                        r"pydicom plugin decodes it; install i2i's decoders: pip install pylibjpeg "
                                        r"pylibjpeg-openjpeg"):
        read_dicom_file(shipped("MR_small_jp2klossless.dcm"))
    ds, _ = synthetic_ct()
    compress_jpeg_lossless(ds)
    ds.save_as(tmp_path / "jll.dcm", enforce_file_format=True)
    with pytest.raises(DataError, match=r"jll\.dcm: .*JPEG Lossless.*pip install pylibjpeg pylibjpeg-libjpeg"):
        read_dicom_file(tmp_path / "jll.dcm")


def test_truncated_pixel_data_is_named():
    with pytest.raises(DataError, match=r"MR_truncated\.dcm: cannot decode its pixel data .*truncated or corrupt"):
        read_dicom_file(shipped("MR_truncated.dcm"))
