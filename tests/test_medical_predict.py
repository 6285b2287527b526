"""``i2i predict`` on DICOM and NIfTI with a CT model: outputs in the input's format, HU
kept through the DICOM rescale, new UIDs, the NIfTI affine, volumes predicted slice by
slice; unusable files named. Real data from ../shared/data/ct."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest
import torch

from tests.conftest import data_path
from tests.test_predict import make_checkpoint

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")

from pydicom.pixels import apply_modality_lut  # noqa: E402

SERIES = ("ct", "pancreas", "dicom_series")


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory):
    """An untrained 1 -> 1 ``ct_sparse_view`` generator (outputs in HU)."""
    return make_checkpoint(tmp_path_factory.mktemp("ct") / "run", cin=1, cout=1, sets=('task.name="ct_sparse_view"',))


@pytest.fixture(scope="module")
def predictor(ct_run):
    from i2i.inference.model import load_model
    from i2i.inference.predict import Predictor

    return Predictor(load_model(ct_run))


def hu_of(ds) -> np.ndarray:
    """Stored pixels through RescaleSlope/RescaleIntercept, as a reader would compute them."""
    return ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def expected_hu(predictor, hu: np.ndarray) -> np.ndarray:
    """The model's prediction (HU) for one 2-D HU slice."""
    return predictor.predict(torch.from_numpy(np.ascontiguousarray(hu, dtype=np.float32))[None])[0].numpy()


def test_dicom_slices_give_one_new_derived_series_in_hu(ct_run, predictor, tmp_path, cli):
    names = ["1-050.dcm", "1-051.dcm", "1-052.dcm"]
    for name in names:
        shutil.copy(data_path(*SERIES, name), tmp_path / name)
    result = cli("predict", ct_run, *(tmp_path / n for n in names), "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0, result.output
    series = set()
    for name in names:
        source, out = pydicom.dcmread(tmp_path / name), pydicom.dcmread(tmp_path / "out" / name)
        expected = expected_hu(predictor, apply_modality_lut(source.pixel_array, source))
        assert np.abs(expected - apply_modality_lut(source.pixel_array, source)).max() > 10  # not the identity
        assert np.abs(hu_of(out) - expected).max() <= float(out.RescaleSlope) / 2 + 0.01
        assert out.SOPInstanceUID != source.SOPInstanceUID
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
        assert out.SeriesInstanceUID != source.SeriesInstanceUID
        assert "DERIVED" in out.ImageType
        for key in ("PatientID", "StudyInstanceUID", "ImagePositionPatient", "ImageOrientationPatient",
                    "PixelSpacing", "SliceThickness"):
            assert out.get(key) == source.get(key), key
        series.add(out.SeriesInstanceUID)
    assert len(series) == 1  # one new series for the one source series
    # A second run is a new series again.
    assert cli("predict", ct_run, tmp_path / names[0], "--out", tmp_path / "again", "--device", "cpu").exit_code == 0
    assert pydicom.dcmread(tmp_path / "again" / names[0]).SeriesInstanceUID not in series


def multiframe(files: list, enhanced: bool):
    """A multi-frame file of 64 x 64 crops of ``files``: legacy (one top-level rescale) or
    enhanced-style (positions and a different rescale per frame in functional groups)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = copy.deepcopy(files[0])
    ds.set_pixel_data(np.stack([f.pixel_array[200:264, 200:264] for f in files]), "MONOCHROME2", 16)
    if enhanced:
        for key in ("RescaleSlope", "RescaleIntercept", "ImagePositionPatient"):
            delattr(ds, key)
        groups = []
        for k, f in enumerate(files):
            item, position, rescale = Dataset(), Dataset(), Dataset()
            position.ImagePositionPatient = f.ImagePositionPatient
            rescale.RescaleSlope, rescale.RescaleIntercept = 1, -1000 - 7 * k
            item.PlanePositionSequence, item.PixelValueTransformationSequence = Sequence([position]), Sequence([rescale])
            groups.append(item)
        ds.PerFrameFunctionalGroupsSequence = Sequence(groups)
    return ds


def frame_hu(ds) -> np.ndarray:
    """Frames in HU through the top-level or the per-frame rescale."""
    if "PerFrameFunctionalGroupsSequence" not in ds:
        return hu_of(ds)
    rescale = [item.PixelValueTransformationSequence[0] for item in ds.PerFrameFunctionalGroupsSequence]
    return np.stack([f * float(r.RescaleSlope) + float(r.RescaleIntercept) for f, r in zip(ds.pixel_array, rescale)])


@pytest.mark.parametrize("enhanced", [False, True], ids=["legacy", "enhanced"])
def test_multiframe_dicom_is_predicted_frame_by_frame(ct_run, predictor, tmp_path, cli, enhanced):
    files = [pydicom.dcmread(data_path(*SERIES, f"1-0{i}.dcm")) for i in (60, 62, 61)]  # frames not in z order
    source = multiframe(files, enhanced)
    source.save_as(tmp_path / "multi.dcm", enforce_file_format=True)
    result = cli("predict", ct_run, tmp_path / "multi.dcm", "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0, result.output
    out = pydicom.dcmread(tmp_path / "out" / "multi.dcm")
    assert int(out.NumberOfFrames) == 3 and out.SeriesInstanceUID != source.SeriesInstanceUID
    assert ("RescaleSlope" in out) != enhanced  # the rescale stays where the source had it
    got, source_hu = frame_hu(out), frame_hu(source)
    for i in range(3):  # in the file's frame order
        assert np.abs(got[i] - expected_hu(predictor, source_hu[i])).max() <= 0.5 + 0.01


def test_nifti_volume_keeps_affine_and_shape_and_is_predicted_per_axial_slice(ct_run, predictor, tmp_path, cli):
    img = nib.load(data_path("ct", "totalsegmentator", "nifti", "example_ct_sm.nii.gz"))
    (tmp_path / "in").mkdir()
    nib.save(img.slicer[20:84, 18:82, 10:13], tmp_path / "in" / "small.nii.gz")  # 64 x 64 x 3, affine follows
    slices = {name: np.asarray(img.dataobj[30:94, 28:92, k], np.float32) for name, k in (("a.npy", 5), ("z.npy", 6))}
    for name, hu in slices.items():  # 2-D images before and after the volume, sharing batches with its slices
        np.save(tmp_path / "in" / name, hu)
    result = cli("predict", ct_run, tmp_path / "in", "--out", tmp_path / "out", "--device", "cpu", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    out = nib.load(tmp_path / "out" / "small.nii.gz")
    source = nib.load(tmp_path / "in" / "small.nii.gz")
    assert out.shape == source.shape == (64, 64, 3)
    assert np.array_equal(out.affine, source.affine)
    data, hu = out.get_fdata(dtype=np.float32), source.get_fdata(dtype=np.float32)
    for k in range(3):
        np.testing.assert_allclose(data[:, :, k], expected_hu(predictor, hu[:, :, k]), atol=1e-2)
    for name, hu in slices.items():
        np.testing.assert_allclose(np.load(tmp_path / "out" / name), expected_hu(predictor, hu), atol=1e-2)


def test_unusable_medical_files_are_named(ct_run, tmp_path, cli):
    ds = pydicom.dcmread(data_path(*SERIES, "1-001.dcm"))
    del ds.PixelData
    ds.save_as(tmp_path / "nopixels.dcm", enforce_file_format=True)
    (tmp_path / "text.dcm").write_text("not dicom")
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 8, 2), np.float32), np.eye(4)), tmp_path / "series.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((64, 64, 2), np.float32), np.eye(4)), tmp_path / "vol.nii.gz")
    np.save(tmp_path / "slice.npy", np.zeros((64, 64), np.float32))
    cases = [(("nopixels.dcm",), "no pixel data"), (("text.dcm",), "not a DICOM file"),
             (("series.nii.gz",), "4-D image of shape (8, 8, 8, 2)"),
             (("vol.nii.gz", "--ext", "png"), "holds 2 slices"),
             (("slice.npy", "--ext", "dcm"), "is not DICOM"),
             (("slice.npy", "--ext", "nii.gz"), "is not NIfTI")]
    for (name, *options), message in cases:
        result = cli("predict", ct_run, tmp_path / name, "--out", tmp_path / "out", "--device", "cpu", *options)
        assert result.exit_code == 2, (name, result.output)
        assert name in result.output and message in result.output, result.output


def test_png_previews_use_the_task_display_window(ct_run, predictor, tmp_path, cli):
    from PIL import Image

    from i2i.medical.hu import apply_window

    shutil.copy(data_path(*SERIES, "1-050.dcm"), tmp_path / "s.dcm")
    result = cli("predict", ct_run, tmp_path / "s.dcm", "--out", tmp_path / "out", "--ext", "png", "--device", "cpu")
    assert result.exit_code == 0, result.output
    png = np.asarray(Image.open(tmp_path / "out" / "s.png"))
    source = pydicom.dcmread(tmp_path / "s.dcm")
    hu = expected_hu(predictor, apply_modality_lut(source.pixel_array, source))
    window = apply_window(torch.from_numpy(hu), "abdomen").numpy()  # ct_sparse_view's default display window
    assert png.dtype == np.uint16 and png.shape == hu.shape  # float (HU) input -> 16-bit PNG
    assert np.abs(png.astype(np.float64) - np.round(window * 65535)).max() <= 1
    assert 0 < (png == 0).mean() < 1 and (png == 65535).mean() < 1  # a window, not HU clipped to [0, 1]
