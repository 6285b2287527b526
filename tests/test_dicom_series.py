"""DICOM series as a DICOM user expects them: one volume per SeriesInstanceUID, files found by
their DICM marker whatever their names, localizers / secondary captures / non-image objects
left out with one line, ``source.series`` to choose, slices along the normal, one line on
uneven spacing and gantry tilt, clear errors on missing positions, and ``data.on_error``
honoured for unusable slices. Synthetic series (JPEG lossless, no file suffixes) and the
real tilted head series of ../shared/data."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

pydicom = pytest.importorskip("pydicom")

from pydicom import uid  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402

from i2i.data import DataError  # noqa: E402
from i2i.data.dataset import CheckedDataset  # noqa: E402
from i2i.medical.dicom import read_dicom_series, scan_folder  # noqa: E402
from i2i.plugins import get_plugins  # noqa: E402
from tests.conftest import data_path  # noqa: E402
from tests.dicom_fixtures import ct_dataset, head_volume, write_series  # noqa: E402

THIN, THICK = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"


def source(root, **options):
    return get_plugins()["sources"].build("ct", options, root=str(root))


@pytest.fixture
def mixed(tmp_path):
    """A PACS-export-like folder: two axial series (suffix-less names in shuffled order), a
    localizer, a secondary capture, an RT Plan, an SR and a presentation state."""
    folder = tmp_path / "export"
    hu = head_volume(4, 32)
    write_series(folder, hu, names=["b", "d", "a", "c"], series_uid=THIN, description="Head 1.25mm")
    write_series(folder, hu[:2], names=["1.2.3.100", "1.2.3.101"], series_uid=THICK, description="Head 5mm",
                 predictor=None)
    write_series(folder, hu[:1], names=["scout"], image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
                 description="Topogram")
    capture = ct_dataset(np.zeros((8, 8), np.uint16), 0, 1, uid.generate_uid(), description="Dose report")
    capture.SOPClassUID = capture.file_meta.MediaStorageSOPClassUID = uid.SecondaryCaptureImageStorage
    capture.save_as(folder / "dose", enforce_file_format=True)
    shutil.copy(get_testdata_file("rtplan.dcm", download=False), folder / "plan.dcm")
    shutil.copy(get_testdata_file("test-SR.dcm", download=False), folder / "report")
    state = pydicom.dcmread(folder / "b")
    for key in ("PixelData", "Rows", "Columns"):
        delattr(state, key)
    state.SOPClassUID = state.file_meta.MediaStorageSOPClassUID = uid.GrayscaleSoftcopyPresentationStateStorage
    state.Modality, state.SeriesInstanceUID = "PR", uid.generate_uid()
    state.save_as(folder / "state", enforce_file_format=True)
    (folder / "notes.txt").write_text("not DICOM")
    return folder, hu


def test_a_folder_of_several_series_gives_one_volume_per_series(mixed, capsys):
    folder, hu = mixed
    scan = scan_folder(folder)
    assert sorted((s.uid, len(s.files)) for s in scan.series if s.kind == "image") == [(THIN, 4), (THICK, 2)]
    assert sorted(s.kind for s in scan.series) == ["image", "image", "localizer", "secondary capture"]
    for reason in ("non-image object (RT Plan Storage)",
                   "non-image object (Comprehensive SR Storage)",
                   "non-image object (Grayscale Softcopy Presentation State Storage)"):
        assert reason in scan.skipped
    thin = next(s for s in scan.series if s.uid == THIN)
    assert [p.name for p in thin.files] == ["b", "d", "a", "c"]  # by position, not by name
    assert np.allclose(np.diff(thin.positions), 2.5) and thin.note is None
    ds = source(folder).dataset("train")
    assert len(ds) == 6 and set(ds.groups) == {"export"}  # series of one folder: one patient
    captured = capsys.readouterr().err.splitlines()
    assert len(captured) == 3, captured  # one line per kind: non-image objects, localizers, secondary captures
    assert "RT Plan" in captured[0] and "left out 1 localizer series: series 3 'Topogram'" in captured[1]
    assert "left out 1 secondary-capture series: series 3 'Dose report'" in captured[2]


def test_data_series_chooses_by_uid_or_description_glob(mixed):
    folder, hu = mixed
    by_uid = source(folder, series=THICK).dataset("train")
    assert len(by_uid) == 2 and all("1.2.3.10" in p for p in by_uid.relative_paths)
    by_glob = source(folder, series="*1.25MM").dataset("train")
    assert [p.split("#")[0] for p in by_glob.relative_paths] == ["b", "d", "a", "c"]
    assert torch.equal(by_glob[2]["target"][0], torch.from_numpy(np.rint(hu[2])))
    with pytest.raises(DataError, match=r"source.series = '\*lung\*': .*no series has that SeriesInstanceUID, "
                                        r"SeriesNumber or a SeriesDescription matching it; the series there: "
                                        r".*'Head 5mm' \(1.2.826.0.1.3680043.8.498.2, 2 image"):
        source(folder, series="*lung*").dataset("train")
    volume = read_dicom_series(folder, series="Head 5mm")
    assert volume.shape == (2, 32, 32) and np.array_equal(volume.hu, np.rint(hu[:2]))


def test_missing_positions_name_the_file_and_the_option(tmp_path):
    folder = tmp_path / "series"
    paths = write_series(folder, head_volume(3, 32))
    ds = pydicom.dcmread(paths[1])
    del ds.ImagePositionPatient
    ds.save_as(paths[1])
    with pytest.raises(DataError, match=r"IM0002: no ImagePositionPatient .*series 3 'AXIAL HEAD' .*source.order = "
                                        r'"instance_number"'):
        source(folder).dataset("train")
    assert len(source(folder, order="instance_number").dataset("train")) == 3


def test_uneven_spacing_and_tilt_get_one_line_naming_the_series(tmp_path, capsys):
    folder = tmp_path / "tilted"
    paths = write_series(folder, head_volume(4, 32), description="Tilted head")
    for k, (path, z) in enumerate(zip(paths, (0.0, 2.0, 4.0, 9.0))):
        ds = pydicom.dcmread(path)
        ds.ImagePositionPatient = [-64.0, -64.0 + z * np.tan(np.radians(15)), z]  # sheared by a 15 degree tilt
        ds.save_as(path)
    assert len(source(folder).dataset("train")) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "series 3 'Tilted head'" in err[0] and "uneven slice spacing, 2.00 to 5.00 mm" in err[0]
    assert "gantry tilt of 15.0 degrees" in err[0] and "2-D slices are unaffected" in err[0]


def test_real_tilted_head_series_reads_with_one_warning(capsys):
    folder = data_path("ct", "head_gantry_tilt", "dicom_series")
    ds = source(folder).dataset("train")
    assert len(ds) == 28 and ds.spacing_of(0) == pytest.approx((0.4882812, 0.4882812))
    sample = ds[10]
    assert sample["target"].shape == (1, 512, 512) and sample["target"].max() > 1000  # skull
    assert torch.allclose(sample["spacing"], torch.tensor([0.4882812, 0.4882812]))
    err = capsys.readouterr().err
    assert err.count("i2i: warning:") == 1
    assert "uneven slice spacing, 1.08 to 7.00 mm" in err and "gantry tilt of 18.5 degrees" in err


@pytest.fixture
def broken(tmp_path):
    """A series with one slice whose pixel data are gone, an RT Plan beside it."""
    folder = tmp_path / "broken"
    paths = write_series(folder, head_volume(4, 32))
    ds = pydicom.dcmread(paths[2])
    del ds.PixelData
    ds.save_as(paths[2])
    shutil.copy(get_testdata_file("rtplan.dcm", download=False), folder / "RTPLAN")
    return folder


def test_on_error_decides_for_an_unusable_slice(broken, capsys):
    """Before: one slice without pixels, or an RT Plan beside the series, stopped the data set."""
    ds = source(broken).dataset("train")
    assert len(ds) == 4
    err = capsys.readouterr().err
    assert "RT Plan Storage" in err and "1 slice(s) cannot be read, e.g." in err and "IM0003: no pixel data" in err
    skip = CheckedDataset(ds, {"target": 1}, on_error="skip")
    samples = [skip[i] for i in range(4)]
    assert [len(s["skipped"]) for s in samples] == [0, 0, 1, 0] and "IM0003" in samples[2]["skipped"][0]
    with pytest.raises(DataError, match=r"IM0003: no pixel data \(CT Image Storage, modality CT\): not an image"):
        CheckedDataset(ds, {"target": 1}, on_error="raise")[2]
    only_bad = broken / "only"
    only_bad.mkdir()
    shutil.move(broken / "IM0003", only_bad / "IM0003")
    with pytest.raises(DataError, match=r"no slice can be read; the first: .*IM0003: no pixel data"):
        source(only_bad).dataset("train")


def test_training_skips_the_unusable_slice_with_on_error_skip(broken, tmp_path):
    from tests.conftest import train_in_process
    from tests.test_ct import TINY

    trainer = train_in_process("recipes/medical_ct.toml", tmp_path / "run", f'data.root="{broken}"',
                               'data.on_error="skip"', "data.load_size=32", "data.crop_size=32", *TINY)
    assert trainer.step == 2
