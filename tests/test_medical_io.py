"""DICOM / NIfTI / NPY reading and writing, against pydicom's and nibabel's own reading of
the real CT data in ../shared/data/ct."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from i2i.data.imageio import DataError
from tests.conftest import data_path

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")

from pydicom.pixels import apply_modality_lut  # noqa: E402

from i2i.medical.dicom import read_dicom, read_dicom_file, read_dicom_series, write_dicom_slices  # noqa: E402
from i2i.medical.io import read_npy, read_volume  # noqa: E402
from i2i.medical.nifti import read_nifti, write_nifti  # noqa: E402


def reference_hu(path) -> np.ndarray:
    ds = pydicom.dcmread(path)
    return apply_modality_lut(ds.pixel_array, ds).astype(np.float32)


@pytest.fixture(scope="module")
def pancreas():
    return read_dicom(data_path("ct", "pancreas", "dicom_series"))


@pytest.fixture(scope="module")
def j2k_folder():
    return data_path("ct", "totalsegmentator", "dicom_series")


@pytest.fixture(scope="module")
def j2k(j2k_folder):
    return read_dicom(j2k_folder)


def test_uncompressed_series_is_sorted_and_exact(pancreas):
    assert pancreas.shape == (134, 512, 512) and pancreas.hu.dtype == np.float32
    assert pancreas.kind == "dicom" and len(pancreas.paths) == len(pancreas.datasets) == 134
    assert np.all(np.diff(pancreas.positions) > 0)
    assert pancreas.spacing == pytest.approx((3.0, 1.07421875, 1.07421875))
    # Order: the headers' own z positions, sorted, match the volume's slice order.
    z = [float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]) for p in pancreas.paths]
    assert z == sorted(z)
    for i in (0, 67, 133):
        assert np.array_equal(pancreas.hu[i], reference_hu(pancreas.paths[i]))
    assert "PixelData" not in pancreas.datasets[0]  # headers only are kept
    # The affine maps slice k to its ImagePositionPatient.
    k = 10
    point = pancreas.affine @ np.array([k, 0, 0, 1.0])
    assert point[:3] == pytest.approx([float(v) for v in pancreas.datasets[k].ImagePositionPatient])


def test_jpeg2000_series_is_exact(j2k):
    ds = pydicom.dcmread(j2k.paths[0], stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID.is_compressed
    assert j2k.shape == (20, 512, 512)
    assert np.all(np.diff(j2k.positions) > 0)
    for i, path in enumerate(j2k.paths):
        assert np.array_equal(j2k.hu[i], reference_hu(path))


@pytest.mark.parametrize("name", ["example_ct.nii.gz", "example_ct_sm.nii.gz", "ct_cropped.nii.gz"])
def test_nifti_volumes_are_exact(name):
    path = data_path("ct", "totalsegmentator", "nifti", name)
    volume = read_volume(path)
    img = nib.load(path)
    assert volume.kind == "nifti" and volume.hu.dtype == np.float32
    assert np.array_equal(volume.hu, img.get_fdata().astype(np.float32))
    assert np.array_equal(volume.affine, img.affine)
    assert volume.spacing == pytest.approx(img.header.get_zooms()[:3])
    slices = volume.slices()
    assert slices.shape == (img.shape[2], img.shape[0], img.shape[1])
    assert np.array_equal(volume.slice(5), img.get_fdata()[:, :, 5].astype(np.float32))
    assert np.array_equal(volume.slice(3, axis=0), img.get_fdata()[3].astype(np.float32))
    assert volume.tensor().shape == (img.shape[2], 1, img.shape[0], img.shape[1])


def test_nifti_canonical_reorients():
    path = data_path("ct", "totalsegmentator", "nifti", "ct_cropped.nii.gz")  # LPS on disk
    volume = read_nifti(path, canonical=True)
    assert nib.aff2axcodes(volume.affine) == ("R", "A", "S")
    assert np.array_equal(volume.hu, nib.load(path).get_fdata()[::-1, ::-1].astype(np.float32))


def test_dicom_without_pixel_data_is_named(tmp_path, j2k):
    ds = pydicom.dcmread(j2k.paths[0])
    del ds.PixelData
    bad = tmp_path / "no_pixels.dcm"
    ds.save_as(bad)
    with pytest.raises(DataError, match=r"no_pixels\.dcm: no pixel data .*not an image"):
        read_dicom_file(bad)
    shutil.copy(j2k.paths[1], tmp_path / "good.dcm")
    with pytest.raises(DataError, match=r"no_pixels\.dcm: no pixel data"):
        read_dicom_series(tmp_path)


def test_unreadable_and_empty_are_named(tmp_path):
    with pytest.raises(DataError, match=r"empty: no DICOM image series"):
        (tmp_path / "empty").mkdir()
        read_dicom(tmp_path / "empty")
    junk = tmp_path / "junk.dcm"
    junk.write_text("not a dicom file")
    with pytest.raises(DataError, match=r"junk\.dcm: not a DICOM file"):
        read_dicom(junk)
    with pytest.raises(DataError, match=r"missing\.dcm: no such file"):
        read_dicom(tmp_path / "missing.dcm")


def test_several_series_in_one_folder_need_a_choice(tmp_path, j2k):
    for i in range(3):
        shutil.copy(j2k.paths[i], tmp_path / f"{i}.dcm")
    other = pydicom.dcmread(tmp_path / "2.dcm")
    other.SeriesInstanceUID = pydicom.uid.generate_uid()
    other.save_as(tmp_path / "2.dcm")
    with pytest.raises(DataError, match=r"2 image series in one folder .*choose one with source.series \(in Python "
                                        r"series=\)"):
        read_dicom_series(tmp_path)
    picked = read_dicom_series(tmp_path, series=other.SeriesInstanceUID)
    assert picked.shape == (1, 512, 512)
    with pytest.raises(DataError, match=r"series = '1\.2\.3': .*no series has that SeriesInstanceUID, SeriesNumber or "
                                        r"a SeriesDescription matching it; the series there: .*'CT Body 3\.0'"):
        read_dicom_series(tmp_path, series="1.2.3")


def test_an_image_of_another_size_is_left_out_of_its_series_with_one_line(tmp_path, j2k, capsys):
    """Before: one image of another size stopped the series ("mixed image sizes")."""
    for i in range(2):
        shutil.copy(j2k.paths[i], tmp_path / f"{i}.dcm")
    small = pydicom.dcmread(j2k.paths[5])
    small.set_pixel_data(small.pixel_array[:256, :256], "MONOCHROME2", 16)
    small.save_as(tmp_path / "5.dcm")
    assert read_dicom_series(tmp_path).shape == (2, 512, 512)
    assert capsys.readouterr().err.splitlines() == [
        f"i2i: warning: series 'CT Body 3.0' (no SeriesInstanceUID) in {tmp_path}: left out 1 image(s) unlike the "
        "rest of the series (5.dcm: 256x256 pixels in a series of 512x512 images)"]


def test_missing_positions_are_named_and_instance_numbers_order_on_request(tmp_path, j2k):
    """Before: slices without ImagePositionPatient were silently ordered by InstanceNumber."""
    for i in (0, 1, 2):
        ds = pydicom.dcmread(j2k.paths[i])
        if i == 1:
            del ds.ImagePositionPatient
        ds.InstanceNumber = 10 - i
        ds.save_as(tmp_path / f"{i}.dcm")
    with pytest.raises(DataError, match=r"1\.dcm: no ImagePositionPatient .*cannot be ordered along the slice "
                                        r'normal; order the slices by InstanceNumber instead \(source.order = '
                                        r'"instance_number"'):
        read_dicom_series(tmp_path)
    volume = read_dicom_series(tmp_path, order="instance_number")
    assert [p.name for p in volume.paths] == ["2.dcm", "1.dcm", "0.dcm"]
    assert volume.positions is None


def test_multiframe_files(tmp_path, pancreas):
    import copy

    frames = [pydicom.dcmread(pancreas.paths[i]) for i in (0, 1, 2)]
    stack = np.stack([ds.pixel_array[:64, :64] for ds in frames])
    # Legacy multi-frame: one top-level rescale.
    legacy = copy.deepcopy(frames[0])
    legacy.set_pixel_data(stack, "MONOCHROME2", 16)
    legacy.save_as(tmp_path / "legacy.dcm")
    volume = read_dicom_file(tmp_path / "legacy.dcm")
    assert volume.shape == (3, 64, 64)
    assert np.array_equal(volume.hu, apply_modality_lut(stack, legacy).astype(np.float32))
    # Enhanced-style: per-frame positions (given in reverse order) and rescale in functional groups.
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    enhanced = copy.deepcopy(frames[0])
    enhanced.set_pixel_data(stack[::-1].copy(), "MONOCHROME2", 16)
    for key in ("RescaleSlope", "RescaleIntercept", "ImagePositionPatient", "ImageOrientationPatient"):
        delattr(enhanced, key)
    per_frame = []
    for k, ds in enumerate(frames[::-1]):
        item = Dataset()
        position, rescale = Dataset(), Dataset()
        position.ImagePositionPatient = ds.ImagePositionPatient
        rescale.RescaleSlope, rescale.RescaleIntercept = 1, -1000 - k
        item.PlanePositionSequence = Sequence([position])
        item.PixelValueTransformationSequence = Sequence([rescale])
        per_frame.append(item)
    shared, orientation, measures = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = frames[0].ImageOrientationPatient
    measures.PixelSpacing = frames[0].PixelSpacing
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    enhanced.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    enhanced.SharedFunctionalGroupsSequence = Sequence([shared])
    enhanced.save_as(tmp_path / "enhanced.dcm")
    volume = read_dicom_file(tmp_path / "enhanced.dcm")
    assert np.all(np.diff(volume.positions) > 0)
    expected = np.stack([stack[k].astype(np.float32) - 1000 - (2 - k) for k in range(3)])
    assert np.array_equal(volume.hu, expected)
    assert volume.spacing == pytest.approx((3.0, 1.07421875, 1.07421875))


def test_write_dicom_round_trip(tmp_path, j2k):
    rng = np.random.default_rng(0)
    hu = j2k.hu[:4] + rng.normal(0, 20, j2k.hu[:4].shape).astype(np.float32)
    paths = write_dicom_slices(hu, j2k.datasets[:4], tmp_path / "out", source_paths=j2k.paths)
    assert [p.name for p in paths] == [f"slice_000{i}.dcm" for i in range(1, 5)]
    series = set()
    for path, expected, ref in zip(paths, hu, j2k.datasets):
        ds = pydicom.dcmread(path)
        back = apply_modality_lut(ds.pixel_array, ds)
        assert np.abs(back - expected).max() <= float(ds.RescaleSlope) / 2 + 1e-6
        assert ds.SOPInstanceUID != ref.SOPInstanceUID and ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.SeriesInstanceUID != ref.SeriesInstanceUID
        assert ds.SeriesDescription.startswith("i2i output") and ds.ImageType[0] == "DERIVED"
        assert ds.PatientID == ref.PatientID and ds.StudyInstanceUID == ref.StudyInstanceUID
        assert list(ds.ImagePositionPatient) == list(ref.ImagePositionPatient)
        assert ds.pixel_array.dtype == np.int16 and not ds.file_meta.TransferSyntaxUID.is_compressed
        series.add(ds.SeriesInstanceUID)
    assert len(series) == 1
    again = read_dicom(tmp_path / "out")
    assert np.abs(again.hu - hu).max() <= 0.5 + 1e-6
    assert np.allclose(again.positions, j2k.positions[:4])


def test_write_dicom_chooses_an_intercept_when_needed(tmp_path, j2k):
    hu = np.full((1, 512, 512), 3000.0, dtype=np.float32)
    hu[0, :10] = -40000.0
    path = write_dicom_slices(hu, j2k.datasets[:1], tmp_path / "wide")[0]
    ds = pydicom.dcmread(path)
    back = apply_modality_lut(ds.pixel_array, ds)
    assert np.abs(back - hu).max() <= float(ds.RescaleSlope) / 2 + 1e-6


def test_writers_never_overwrite_sources(tmp_path, j2k, j2k_folder):
    with pytest.raises(DataError, match="folder of the source series"):
        write_dicom_slices(j2k.hu[:2], j2k.datasets[:2], j2k_folder)
    with pytest.raises(DataError, match="folder of the source series"):
        write_dicom_slices(j2k.hu[:2], j2k, j2k_folder)  # the Volume's paths count as sources
    write_dicom_slices(j2k.hu[:1], j2k.datasets[:1], tmp_path / "out")
    with pytest.raises(DataError, match=r"slice_0001\.dcm: already exists"):
        write_dicom_slices(j2k.hu[:1], j2k.datasets[:1], tmp_path / "out")
    with pytest.raises(DataError, match="2 slice.*1 reference"):
        write_dicom_slices(j2k.hu[:2], j2k.datasets[:1], tmp_path / "other")
    source = tmp_path / "src.nii.gz"
    write_nifti(np.zeros((4, 4, 4)), np.eye(4), source)
    with pytest.raises(DataError, match="is a source file"):
        write_nifti(np.ones((4, 4, 4)), np.eye(4), source, source_paths=[source], overwrite=True)
    with pytest.raises(DataError, match="already exists"):
        write_nifti(np.ones((4, 4, 4)), np.eye(4), source)


def test_write_nifti_keeps_the_affine(tmp_path):
    path = data_path("ct", "totalsegmentator", "nifti", "example_ct_sm.nii.gz")
    volume = read_nifti(path)
    out = write_nifti(volume.hu + 1.5, volume.affine, tmp_path / "out.nii.gz", header=volume.header,
                      source_paths=volume.paths)
    again = read_nifti(out)
    assert np.array_equal(again.affine, volume.affine)
    assert np.array_equal(again.hu, volume.hu + 1.5)


def test_nifti_of_the_wrong_rank_is_named(tmp_path):
    flat = tmp_path / "flat.nii"
    nib.save(nib.Nifti1Image(np.zeros((8, 8), dtype=np.float32), np.eye(4)), flat)
    with pytest.raises(DataError, match=r"flat\.nii: expected a 3-D volume .*got a 2-D image of shape \(8, 8\)"):
        read_volume(flat)
    series = tmp_path / "series.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 2), dtype=np.float32), np.eye(4)), series)
    with pytest.raises(DataError, match=r"series\.nii\.gz: .*4-D image of shape \(4, 4, 4, 2\)"):
        read_nifti(series)
    single = tmp_path / "single.nii.gz"
    nib.save(nib.Nifti1Image(np.arange(64, dtype=np.int16).reshape(4, 4, 4, 1), np.eye(4)), single)
    assert read_nifti(single).shape == (4, 4, 4)


def test_npy(tmp_path):
    np.save(tmp_path / "slice.npy", np.arange(12, dtype=np.int16).reshape(3, 4))
    np.save(tmp_path / "vol.npy", np.zeros((2, 3, 4)))
    np.save(tmp_path / "bad.npy", np.zeros((1, 2, 3, 4)))
    assert read_volume(tmp_path / "slice.npy").shape == (1, 3, 4)
    assert read_npy(tmp_path / "vol.npy").hu.dtype == np.float32
    with pytest.raises(DataError, match=r"bad\.npy: expected an HU slice"):
        read_npy(tmp_path / "bad.npy")


def test_rescale_follows_the_standard(tmp_path):
    """Before: without RescaleSlope the intercept was dropped (every HU 1024 too high, air at 0)
    and a CT without either tag was taken as HU without a word."""
    from pydicom.uid import generate_uid

    from i2i.medical.dicom import NoRescaleError
    from tests.dicom_fixtures import ct_dataset

    stored = np.array([[0, 24], [1064, 4095]], dtype=np.uint16)
    ct_dataset(stored, 0, 1, generate_uid(), slope=None).save_as(tmp_path / "no_slope.dcm", enforce_file_format=True)
    assert np.array_equal(read_dicom_file(tmp_path / "no_slope.dcm").hu[0], stored - 1024.0)
    ct_dataset(stored, 0, 1, generate_uid(), intercept=None, slope=2.0).save_as(tmp_path / "no_intercept.dcm",
                                                                          enforce_file_format=True)
    assert np.array_equal(read_dicom_file(tmp_path / "no_intercept.dcm").hu[0], stored * 2.0)
    ct_dataset(stored, 0, 1, generate_uid(), intercept=None, slope=None).save_as(tmp_path / "neither.dcm",
                                                                          enforce_file_format=True)
    with pytest.raises(NoRescaleError, match=r"neither\.dcm: a CT image without RescaleIntercept/RescaleSlope "
                                             r"\(or a Modality LUT\): its stored values \(0 to 4095\) are not known"):
        read_dicom_file(tmp_path / "neither.dcm")
    assert np.array_equal(read_dicom_file(tmp_path / "neither.dcm", stored_values_as_hu=True).hu[0], stored)
    mr = pydicom.dcmread(tmp_path / "neither.dcm")
    mr.Modality, mr.SOPClassUID = "MR", pydicom.uid.MRImageStorage
    mr.file_meta.MediaStorageSOPClassUID = mr.SOPClassUID
    mr.save_as(tmp_path / "mr.dcm")
    assert np.array_equal(read_dicom_file(tmp_path / "mr.dcm").hu[0], stored)  # not CT: stored values as they are


def test_ct_source_refuses_ct_without_rescale_unless_told(tmp_path):
    from i2i.plugins import get_plugins
    from tests.dicom_fixtures import head_volume, write_series

    paths = write_series(tmp_path / "raw", head_volume(2, 32), predictor=None, intercept=None, slope=None)
    build = get_plugins()["sources"].build
    with pytest.raises(DataError, match=r"IM0001: a CT image without RescaleIntercept/RescaleSlope .*; if they are "
                                        r"HU, set source.stored_values_as_hu = true"):
        build("ct", {}, root=str(tmp_path / "raw")).dataset("train")
    ds = build("ct", {"stored_values_as_hu": True}, root=str(tmp_path / "raw")).dataset("train")
    assert ds[0]["target"].max() == pydicom.dcmread(paths[0]).pixel_array.max()


def test_enhanced_frames_take_an_intercept_without_a_slope(tmp_path, pancreas):
    import copy

    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = copy.deepcopy(pancreas.datasets[0])
    ds.set_pixel_data(np.full((2, 4, 4), 1000, dtype=np.int16), "MONOCHROME2", 16)
    del ds.RescaleSlope, ds.RescaleIntercept
    groups = []
    for intercept in (-1000, -1024):
        item, rescale = Dataset(), Dataset()
        rescale.RescaleIntercept = intercept
        item.PixelValueTransformationSequence = Sequence([rescale])
        groups.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(groups)
    ds.save_as(tmp_path / "enhanced.dcm")
    hu = read_dicom_file(tmp_path / "enhanced.dcm").hu
    assert sorted(np.unique(hu).tolist()) == [-24.0, 0.0]


def test_truncated_and_empty_nifti_are_named(tmp_path):
    source = data_path("ct", "totalsegmentator", "nifti", "example_ct_sm.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(source[: len(source) // 2])
    with pytest.raises(DataError, match=r"cut\.nii\.gz: cannot read the voxel data .*truncated or corrupt: copy or "
                                        r"export it again"):
        read_volume(tmp_path / "cut.nii.gz")
    (tmp_path / "head.nii.gz").write_bytes(source[:100])
    with pytest.raises(DataError, match=r"head\.nii\.gz: unreadable NIfTI file .*truncated or corrupt"):
        read_volume(tmp_path / "head.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((0, 10, 10), np.float32), np.eye(4)), tmp_path / "empty.nii.gz")
    with pytest.raises(DataError, match=r"empty\.nii\.gz: the volume has an empty axis \(shape \(0, 10, 10\)\)"):
        read_volume(tmp_path / "empty.nii.gz")
    np.save(tmp_path / "empty.npy", np.zeros((3, 0, 4)))
    with pytest.raises(DataError, match=r"empty\.npy: the array has an empty axis"):
        read_volume(tmp_path / "empty.npy")
