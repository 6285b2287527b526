"""Bad medical inputs through the CLI: each ends with a message naming the file (or the recipe
key) and what to do, exit code 1 (runtime) or 2 (usage), no traceback. A new bad input is
one line in CASES: (id, how to make it, command, exit code, texts the output must hold)."""

from __future__ import annotations

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


CASES = [
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
    made = make(tmp_path / "bad")
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
