"""``ct_pairs``: two DICOM series of one patient paired slice by slice by position, and
``i2i eval --input-series/--target-series`` scoring a CT model on them without simulating."""

import json

import numpy as np
import pytest

from i2i.data import DataError
from i2i.medical.series_pairs import Grid, onto_grid, pair_positions
from i2i.plugins import get_plugins
from tests.conftest import CT_RECIPE, TINY_CT, invoke_cli
from tests.dicom_fixtures import head_volume, write_series  # noqa: E402


def noisy(hu: np.ndarray, seed: int = 0, std: float = 20.0) -> np.ndarray:
    """``hu`` with Gaussian noise inside the body (air stays air: stored values are unsigned)."""
    return hu + np.random.default_rng(seed).normal(0, std, hu.shape) * (hu > -500)


def pair_folder(root, *, input_z: float = 2.5, input_spacing: float = 0.5, input_size: int = 32, patients=("P1",)):
    """Per patient: a full-dose series 3 (5 slices at 0..10 mm) and a quarter-dose series 4 (4
    slices from ``input_z``)."""
    for k, patient in enumerate(patients):
        hu = head_volume(5, 32)
        study = f"1.2.3.{k + 10}"
        write_series(root / patient / "full", hu, predictor=None, series_number=3, description="FULL DOSE",
                     patient_id=patient, study_uid=study)
        given = head_volume(5, input_size)[1:] if input_size != 32 else hu[1:]
        write_series(root / patient / "low", noisy(given, k), predictor=None, series_number=4,
                     description="QUARTER DOSE", patient_id=patient, study_uid=study, first_z=input_z,
                     spacing=input_spacing)
    return root


def source(root, **options):
    options = {"input_series": "*quarter*", "target_series": 3, **options}
    return get_plugins()["sources"].build("ct_pairs", {"root": str(root), **options})


def test_positions_pair_within_the_tolerance():
    assert pair_positions([0, 2.5, 5, 7.5], [2.4, 5.2, 9.0], 0.5) == [(1, 0), (2, 1)]
    assert pair_positions([0.0], [], 1.0) == []


def test_series_pair_slice_by_slice_and_the_unpaired_are_counted(tmp_path, capsys):
    root = pair_folder(tmp_path, patients=("P1", "P2"))
    ds = source(root).dataset("train")
    assert len(ds) == 8 and sorted(set(ds.groups)) == ["P1/full", "P2/full"]
    sample = ds[0]
    assert sample["path"].endswith("P1/full/IM0002#1") and sample["input_path"].endswith("P1/low/IM0001#0")
    assert sample["region"] == "head" and sample["input"].shape == sample["target"].shape == (1, 32, 32)
    noise = (sample["input"] - sample["target"])[sample["target"] > -500]
    assert 15 < float(noise.std()) < 25  # the quarter-dose slice at the same position, not a copy
    err = capsys.readouterr().err
    assert "1 of 5 slice(s) have no slice of" in err and "within 1.25 mm and are left out" in err


def test_series_that_do_not_overlap_are_refused_naming_both(tmp_path):
    root = pair_folder(tmp_path, input_z=100.0)
    with pytest.raises(DataError, match=r"series 4 'QUARTER DOSE' \(slices at 100.0 to 107.5 mm\) and .*series 3 "
                                         r"'FULL DOSE' \(slices at 0.0 to 10.0 mm\) do not overlap in position"):
        source(root).dataset("train")


def test_mismatched_pixel_spacing_is_refused_or_resampled(tmp_path, capsys):
    root = pair_folder(tmp_path, input_spacing=0.25, input_size=64)  # the same 16 mm field of view, finer pixels
    with pytest.raises(DataError, match=r"64 x 64 pixels of 0.25 x 0.25 mm\) and .*32 x 32 pixels of 0.5 x 0.5 mm\) "
                                        r"do not lie on one pixel grid.*set source.resample = true"):
        source(root).dataset("train")
    ds = source(root, resample=True).dataset("train")
    sample = ds[1]
    assert sample["input"].shape == (1, 32, 32)
    inside = sample["target"] > -500
    assert float((sample["input"] - sample["target"])[inside].abs().median()) < 40
    assert "resampled (bilinear) onto the pixel grid of" in capsys.readouterr().err


def test_onto_grid_is_the_identity_on_one_grid_and_shifts_by_the_origin():
    import pydicom

    ds = pydicom.Dataset()
    ds.ImagePositionPatient, ds.ImageOrientationPatient, ds.PixelSpacing = [0, 0, 0], [1, 0, 0, 0, 1, 0], [1, 1]
    ds.Rows = ds.Columns = 8
    grid = Grid.of(ds)
    image = np.arange(64, dtype=np.float32).reshape(8, 8)
    assert np.allclose(onto_grid(image, grid, grid), image, atol=1e-4)
    ds.ImagePositionPatient = [1, 0, 0]  # the target grid starts one column to the right
    moved = onto_grid(image, grid, Grid.of(ds))
    assert np.allclose(moved[:, :7], image[:, 1:], atol=1e-4) and np.allclose(moved[:, 7], -1000, atol=1e-2)


def test_a_series_named_for_both_or_missing_is_a_clear_error(tmp_path):
    root = pair_folder(tmp_path)
    with pytest.raises(DataError, match="both name"):
        source(root, input_series=3).dataset("train")
    with pytest.raises(DataError, match=r"source.input_series = 9: .*no series has that"):
        source(root, input_series=9).dataset("train")
    with pytest.raises(ValueError, match="target_series: not set"):
        source(root, target_series=None)


@pytest.fixture(scope="module")
def tiny_ct_run(tmp_path_factory):
    """A CT model of a few seconds' training on phantoms (no final evaluation)."""
    run = tmp_path_factory.mktemp("ct_pairs") / "run"
    code, out = invoke_cli("run", CT_RECIPE, "--out", run, "--device", "cpu", *TINY_CT,
                           "--set", "train.final_eval=false", "--quiet")
    assert code == 0, out
    return run


@pytest.mark.slow
def test_eval_scores_a_ct_model_on_real_pairs_without_simulating(tmp_path, tiny_ct_run):
    """The input baseline of eval.json is the quarter-dose series itself against the full-dose
    one (a simulated 8-view FBP would be far worse), and the protocol says nothing was made."""
    root = pair_folder(tmp_path / "pairs")
    code, out = invoke_cli("eval", tiny_ct_run, "--data", root, "--input-series", "*QUARTER*",
                           "--target-series", "3", "--out", tmp_path / "eval.json", "--native")
    assert code == 0, out
    summary = json.loads((tmp_path / "eval.json").read_text())
    assert summary["images"] == 4 and summary["regions"] == {"head": 4}
    assert "nothing made or simulated" in summary["protocol"]["pairs"]
    ds = source(root).dataset("train")
    from i2i.medical.fov import fov_mask

    errors = []
    for i in range(4):
        x, y = (ds[i][k].clamp_min(-1000.0) for k in ("input", "target"))
        errors.append(float((x - y)[fov_mask(32, 32)[None]].abs().mean()))
    assert summary["metrics"]["input"]["mae_hu"]["mean"] == pytest.approx(np.mean(errors), rel=1e-4)
    assert summary["metrics"]["input"]["brain_mae_hu"]["count"] == 4


def test_eval_pair_options_need_each_other_and_data(tmp_path):
    code, out = invoke_cli("eval", tmp_path, "--input-series", "4")
    assert code == 2 and "--input-series needs --target-series" in out and "Traceback" not in out
    code, out = invoke_cli("eval", tmp_path, "--input-series", "4", "--target-series", "3")
    assert code == 2 and "need --data" in out and "Traceback" not in out


@pytest.mark.slow
@pytest.mark.parametrize("bad, says", [({"input_z": 50.0}, "do not overlap in position"),
                                       ({"input_spacing": 0.6}, "do not lie on one pixel grid")])
def test_eval_on_bad_pairs_says_why_without_a_traceback(tmp_path, tiny_ct_run, bad, says):
    root = pair_folder(tmp_path / "pairs", **bad)
    code, out = invoke_cli("eval", tiny_ct_run, "--data", root, "--input-series", "4", "--target-series", "3")
    assert code == 1 and says in out and "Traceback" not in out
