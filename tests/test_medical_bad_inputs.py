"""Bad medical inputs through the CLI: each ends with a message naming the file (or the recipe
key) and what to do, exit code 1 (runtime) or 2 (usage), no traceback; or, where the input
is now read as a radiology tool reads it, exit code 0 and the line saying what was done. A
new bad input is one line in CASES: (id, how to make it, command, exit code, texts the
output must hold). The red-team items of issue 21 are marked (21.N)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")

from pydicom.data import get_testdata_file  # noqa: E402

from tests.conftest import data_path  # noqa: E402
from tests.dicom_fixtures import head_volume, write_series  # noqa: E402
from tests.test_ct import TINY  # noqa: E402
from tests.test_predict import make_checkpoint  # noqa: E402


def undecodable(folder):
    """A JPEG 2000 slice relabelled as a CT in JPEG 2000 Part 2 multi-component, which nothing decodes."""
    folder.mkdir()
    ds = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm", download=False))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.UID("1.2.840.10008.1.2.4.92")
    ds.Modality, ds.RescaleIntercept, ds.RescaleSlope = "CT", -1024, 1
    ds.save_as(folder / "jp2part2")
    return folder / "jp2part2"


def no_positions(folder):
    paths = write_series(folder, head_volume(3, 32))
    ds = pydicom.dcmread(paths[1])
    del ds.ImagePositionPatient
    ds.save_as(paths[1])
    return folder


def truncated(folder):
    folder.mkdir()
    data = data_path("ct", "totalsegmentator", "nifti", "example_ct_sm.nii.gz").read_bytes()
    (folder / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    return folder / "cut.nii.gz"


def empty_axis(folder):
    folder.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((0, 16, 16), np.float32), np.eye(4)), folder / "empty.nii.gz")
    return folder / "empty.nii.gz"


def no_rescale(folder):
    return write_series(folder, head_volume(2, 32), predictor=None, intercept=None, slope=None)[0]


def nifti_folder(folder):
    folder.mkdir()
    nib.save(nib.Nifti1Image(np.zeros((16, 16, 4), np.float32), np.eye(4)), folder / "vol.nii.gz")
    return folder


def edited(**tags):
    """A maker of a 3-slice series whose every file has ``tags`` set (None deletes the tag)."""
    def make(folder):
        for path in write_series(folder, head_volume(3, 32), predictor=None):
            ds = pydicom.dcmread(path)
            for key, value in tags.items():
                if value is None:
                    delattr(ds, key)
                else:
                    setattr(ds, key, value)
            ds.save_as(path)
        return folder
    return make


def one_file(make):
    """The first file of what ``make`` writes."""
    def first(folder):
        return sorted(make(folder).iterdir())[0]
    return first


def syntax(uid):
    """A maker of a CT slice in transfer syntax ``uid`` (one pydicom does not know)."""
    def make(folder):
        path = write_series(folder, head_volume(1, 32), predictor=None)[0]
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = pydicom.uid.UID(uid)
        pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=True, force_encoding=True)
        return folder
    return make


def nifti_zooms(zoom):
    def make(folder):
        folder.mkdir()
        img = nib.Nifti1Image(np.full((16, 16, 4), 40, np.float32), np.eye(4))
        img.header["pixdim"][1:4] = [zoom, 1, 1]
        nib.save(img, folder / "vol.nii.gz")
        return folder
    return make


def with_others(folder):
    """A series beside a DICOMDIR and an RT Plan, as a PACS export holds them."""
    write_series(folder, head_volume(2, 32), predictor=None)
    shutil.copy(get_testdata_file("DICOMDIR", download=False), folder / "DICOMDIR")
    shutil.copy(get_testdata_file("rtplan.dcm", download=False), folder / "RTPLAN")
    return folder


def fifo(folder):
    folder.mkdir()
    os.mkfifo(folder / "pipe")
    return folder / "pipe"


def two_patients(folder):
    for name in ("a", "b"):
        write_series(folder / name, head_volume(4, 32), predictor=None, patient_id=name)
    return folder


def copied(folder):
    """Two patients, and a copy of the first one's folder."""
    shutil.copytree(two_patients(folder) / "a", folder / "c")
    return folder


def symlinked(folder):
    """Two patients, and a symlink to the first one's folder."""
    (two_patients(folder) / "c").symlink_to(folder / "a", target_is_directory=True)
    return folder


def self_link(folder):
    write_series(folder, head_volume(6, 32), predictor=None)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    return folder


SPLIT = "run --set data.test_fraction=0.3"
CASES = [
    # 21.1: zero, negative, NaN, one-value or missing PixelSpacing, a 2-value ImagePositionPatient, NIfTI zooms
    ("run-pixel-spacing-0", edited(PixelSpacing=[0, 0]), "run", 1, ["IM0001: PixelSpacing is 0.0\\0.0: expected two "
                                                                      "positive numbers", "cannot be read"]),
    ("run-pixel-spacing-negative", edited(PixelSpacing=[-0.5, -0.5]), "run", 1, ["PixelSpacing is -0.5\\-0.5"]),
    ("run-pixel-spacing-nan", edited(PixelSpacing=["nan", "nan"]), "run", 1, ["PixelSpacing is nan\\nan"]),
    ("run-pixel-spacing-one-value", edited(PixelSpacing=0.5), "run", 1, ["IM0001: PixelSpacing is 0.5: expected two"]),
    ("run-position-two-values", edited(ImagePositionPatient=[0, 0]), "run", 1,
     ["IM0001: ImagePositionPatient is 0.0\\0.0: expected three numbers"]),
    ("predict-pixel-spacing-0", one_file(edited(PixelSpacing=[0, 0])), "predict", 2,
     ["IM0001: PixelSpacing is 0.0\\0.0"]),
    ("predict-pixel-spacing-nan", one_file(edited(PixelSpacing=["nan", "nan"])), "predict", 2,
     ["IM0001: PixelSpacing is nan\\nan"]),
    ("predict-folder-pixel-spacing-0", edited(PixelSpacing=[0, 0]), "predict", 2,
     ["no DICOM series here to predict", "PixelSpacing is 0.0\\0.0"]),
    ("run-no-pixel-spacing", edited(PixelSpacing=None), "run", 0, ["no PixelSpacing, so its pixel size is unknown"]),
    ("run-nifti-zoom-0", nifti_zooms(0), "run", 1, ["vol.nii.gz: pixdim (the voxel size) is 0 x 1 x 1 mm"]),
    ("run-nifti-zoom-negative", nifti_zooms(-1.5), "run", 1, ["pixdim (the voxel size) is -1.5 x 1 x 1 mm"]),
    ("predict-nifti-zoom-nan", nifti_zooms(float("nan")), "predict", 2, ["pixdim (the voxel size) is nan x 1 x 1"]),
    # 21.4: MR, PET and ultrasound are not HU
    ("run-mr", edited(Modality="MR"), "run", 1, ["left out 1 non-CT series", "modality MR", "not HU"]),
    ("run-pet", edited(Modality="PT"), "run", 1, ["modality PT", "not HU"]),
    ("predict-us-folder", edited(Modality="US"), "predict", 2, ["modality US", "not HU"]),
    ("predict-mr-file", one_file(edited(Modality="MR")), "predict", 2, ["IM0001: modality MR", "translates CT images"]),
    ("run-mr-chosen", edited(Modality="MR"), "run --set source.series=3", 1, ["source.series = 3 names series 3",
                                                                              "cannot be used: modality MR"]),
    # 21.5: a symlinked copy of a folder, a folder symlinked to itself
    ("run-copied-folder", copied, SPLIT, 0, ["/bad/c: left out 4 files (IM0001 = ", "/bad/a/IM0001, ...): copy of an "
                                             "image already read (same SOPInstanceUID)"]),
    ("run-symlinked-folder", symlinked, SPLIT, 0, ["/bad: read once: ", "/bad/c is "]),
    ("run-self-symlink", self_link, SPLIT, 0, ["self-link: read once: ", "one group ('self-link'"]),
    # 21.6: transfer syntaxes pydicom does not know
    ("run-private-syntax", syntax("1.2.840.10008.1.2.9"), "run", 1,
     ["IM0001: its pixel data are encoded in transfer syntax 1.2.840.10008.1.2.9", "JPEG Lossless", "convert"]),
    ("predict-jpeg-xl", syntax("1.2.840.10008.1.2.4.110"), "predict", 2,
     ["transfer syntax 1.2.840.10008.1.2.4.110, which pydicom does not know", "Explicit VR Little Endian"]),
    # 21.12: RescaleSlope 0 or NaN, a zero orientation, DICOMDIR and RT Plan beside a series, a FIFO as data.root
    ("run-slope-0", edited(RescaleSlope=0), "run", 1, ["IM0001: RescaleSlope is 0.0: expected a finite number other "
                                                       "than 0"]),
    ("predict-slope-nan", one_file(edited(RescaleSlope="nan")), "predict", 2, ["RescaleSlope is nan"]),
    ("run-zero-orientation", edited(ImageOrientationPatient=[0] * 6), "run", 1,
     ["ImageOrientationPatient is 0.0\\0.0\\0.0\\0.0\\0.0\\0.0: the row and column directions must be"]),
    ("predict-dicomdir-rtplan", with_others, "predict", 0, ["non-image object (Media Storage Directory Storage)",
                                                            "non-image object (RT Plan Storage)", "done: 2 file(s)"]),
    ("run-fifo-root", fifo, "run", 2, ["is neither a folder nor a regular file"]),

    ("run-undecodable", undecodable, "run", 1, ["jp2part2", "JPEG 2000 Part 2", "convert the file"]),
    ("run-no-positions", no_positions, "run", 1, ["IM0002: no ImagePositionPatient", 'source.order = "instance_number"']),
    ("run-truncated-nifti", truncated, "run", 1, ["cut.nii.gz", "truncated or corrupt"]),
    ("run-empty-axis", empty_axis, "run", 1, ["empty.nii.gz", "empty axis"]),
    ("run-axis-5", nifti_folder, "run --set source.axis=5", 2, ["source.axis = 5", "leave source.axis unset"]),
    ("run-no-rescale", no_rescale, "run", 1, ["IM0001", "without RescaleIntercept", "source.stored_values_as_hu"]),
    ("predict-undecodable", undecodable, "predict", 2, ["jp2part2", "JPEG 2000 Part 2", "convert the file"]),
    ("predict-truncated-nifti", truncated, "predict", 2, ["cut.nii.gz", "truncated or corrupt"]),
    ("predict-empty-axis", empty_axis, "predict", 2, ["empty.nii.gz", "empty axis"]),
    ("predict-no-rescale", no_rescale, "predict", 2, ["IM0001", "without RescaleIntercept", "add RescaleIntercept"]),
]


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("bad") / "run", cin=1, cout=1, sets=('task.name="ct_sparse_view"',))


@pytest.mark.parametrize(("make", "command", "code", "texts"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_medical_input(make, command, code, texts, tmp_path, cli, ct_run):
    made = make(tmp_path / ("self-link" if make is self_link else "bad"))
    verb, *extra = command.split()
    if verb == "run":
        sets = [f"--set={s}" for s in (*TINY, "data.load_size=32", "data.crop_size=32")]
        args = ["run", "recipes/medical_ct.toml", "--out", tmp_path / "run", f"--set=data.root={made}", *sets, *extra]
    else:
        args = ["predict", ct_run, made, "--out", tmp_path / "out", "--device", "cpu", *extra]
    result = cli(*args)  # an exception escaping the CLI fails the test here (catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for text in texts:
        assert text in result.output, result.output
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
