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


@pytest.fixture(scope="module")
def identity_run(tmp_path_factory):
    """A residual ``ct_sparse_view`` U-Net whose weights are all zero: it outputs its input,
    so what comes out shows what the I/O chain keeps (task default hu_range [-1024, 3071])."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    run = make_checkpoint(tmp_path_factory.mktemp("identity") / "run", cin=1, cout=1,
                          sets=('task.name="ct_sparse_view"',))
    path = run / "checkpoints" / "step_00000001" / "generator.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    weights = {k: v if "running_var" in k else torch.zeros_like(v) for k, v in load_file(path).items()}
    save_file(weights, path, meta)
    return run


def test_jpeg_lossless_series_without_suffixes_predicts_to_dicom_in_hu(identity_run, tmp_path, cli):
    """issue 12: predict on a JPEG-lossless DICOM series without file suffixes writes a DICOM
    series that re-reads with pydicom in HU, values above 1024 HU kept (before: the files
    were skipped for their missing suffix; the output kept the source's SeriesNumber)."""
    from tests.dicom_fixtures import head_volume, write_series

    hu = head_volume(3, 48)
    paths = write_series(tmp_path / "in", hu, names=["IM0001", "IM0002", "1.2.840.99.7"])
    assert all(pydicom.dcmread(p).file_meta.TransferSyntaxUID == pydicom.uid.JPEGLosslessSV1 for p in paths)
    result = cli("predict", identity_run, tmp_path / "in", "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1.2.840.99.7.dcm", "IM0001.dcm", "IM0002.dcm"]
    series = set()
    for path, expected in zip(paths, hu):
        source, out = pydicom.dcmread(path), pydicom.dcmread(tmp_path / "out" / f"{path.name}.dcm")
        back = apply_modality_lut(out.pixel_array, out)
        assert np.abs(back - np.maximum(expected, -1000)).max() <= 0.5 + 0.01  # bone up to ~3000 HU kept
        assert back.max() > 2900 and (back > 1024).mean() > 0.05
        assert out.SeriesNumber == source.SeriesNumber + 1000 and out.SeriesInstanceUID != source.SeriesInstanceUID
        assert out.SOPInstanceUID != source.SOPInstanceUID and out.StudyInstanceUID == source.StudyInstanceUID
        assert not out.file_meta.TransferSyntaxUID.is_compressed
        series.add(out.SeriesInstanceUID)
    assert len(series) == 1
    single = cli("predict", identity_run, paths[0], "--out", tmp_path / "one", "--device", "cpu", "--ext", "npy")
    assert single.exit_code == 0, single.output
    assert np.abs(np.load(tmp_path / "one" / "IM0001.npy") - np.maximum(hu[0], -1000)).max() < 0.5


def test_real_head_slice_keeps_its_skull(identity_run, tmp_path, cli):
    """A real head CT slice (skull above 1024 HU), cropped and re-encoded as JPEG lossless."""
    from tests.dicom_fixtures import compress_jpeg_lossless

    source = pydicom.dcmread(data_path("ct", "head_cptac_gbm", "dicom_series", "000080.dcm"))
    hu = np.maximum(apply_modality_lut(source.pixel_array, source)[64:192, 160:352], -1024)
    assert hu.max() > 1500
    crop = copy.deepcopy(source)
    crop.PixelRepresentation = 0
    crop.set_pixel_data((hu + 1024).astype(np.uint16), "MONOCHROME2", 16)
    crop.RescaleIntercept, crop.RescaleSlope = -1024, 1
    compress_jpeg_lossless(crop)
    crop.save_as(tmp_path / "slice", enforce_file_format=True)
    result = cli("predict", identity_run, tmp_path / "slice", "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0, result.output
    out = pydicom.dcmread(tmp_path / "out" / "slice.dcm")
    back = apply_modality_lut(out.pixel_array, out)
    from i2i.medical.fov import fov_mask

    inside = fov_mask(*hu.shape).numpy()  # outside the field of view predictions are air
    assert np.abs(back - np.maximum(hu, -1000))[inside].max() <= 0.51 and back[inside].max() > 1500
    assert (back[~inside] == -1000).all()


def test_dicom_is_recognised_by_content_whatever_its_name(tmp_path):
    from i2i.assembly.formats import format_table
    from i2i.errors import UsageError
    from i2i.inference.files import collect_inputs
    from tests.dicom_fixtures import head_volume, write_series

    write_series(tmp_path / "in", head_volume(2, 16), names=["IM0001", "scan.v2"])
    (tmp_path / "in" / "README").write_text("not an image")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    items = collect_inputs([str(tmp_path / "in")])
    assert [(i.path.name, i.name.as_posix()) for i in items] == [("IM0001", "IM0001.dcm"), ("scan.v2", "scan.v2.dcm")]
    formats = format_table()
    assert formats.format_for(tmp_path / "in" / "IM0001").name == "dicom"
    assert formats.sniffed(tmp_path / "in" / "README") is None
    with pytest.raises(UsageError, match=r"README: no reader/writer for 'files without a suffix'.*by content, whatever the "
                                         r"name: dicom"):
        formats.format_for(tmp_path / "in" / "README")
    assert collect_inputs([str(tmp_path / "in" / "IM*")])[0].name.as_posix() == "IM0001.dcm"


def test_the_recipe_hu_range_clips_nothing(tmp_path, cli):
    """Before: recipes/medical_ct.toml's hu_range = [-1024, 1024] clipped every value above
    1024 HU (the skull); the mapping is now linear beyond hu_range, so bone and metal survive."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from i2i.recipe import load_recipe

    hu_range = list(load_recipe("recipes/medical_ct.toml").task.options["hu_range"])
    run = make_checkpoint(tmp_path / "run", cin=1, cout=1,
                          sets=('task.name="ct_sparse_view"', f"task.hu_range={hu_range}"))
    path = run / "checkpoints" / "step_00000001" / "generator.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    save_file({k: v if "running_var" in k else torch.zeros_like(v) for k, v in load_file(path).items()}, path, meta)
    slice_hu = np.full((64, 64), -1000.0, dtype=np.float32)
    slice_hu[20:44, 20:44] = 1800.0  # cortical bone
    slice_hu[28:36, 28:36] = 8000.0  # metal
    np.save(tmp_path / "slice.npy", slice_hu)
    assert cli("predict", run, tmp_path / "slice.npy", "--out", tmp_path / "out", "--quiet").exit_code == 0
    out = np.load(tmp_path / "out" / "slice.npy")
    assert hu_range[1] < 1800 and np.abs(out - slice_hu).max() < 0.5
