"""CT tasks and sources: HU from the files exactly, pairs simulated in HU, metrics in HU,
training from phantoms, DICOM and NIfTI, and clear errors for unusable files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from i2i.data import DataError
from i2i.metrics import MetricTable, ScoredImages
from i2i.plugins import get_plugins
from tests.conftest import data_path, train_in_process

TINY = ('generator.name="unet"', "generator.depth=3", "generator.ngf=4", "discriminator.ndf=4",
        "discriminator.n_layers=1", "train.steps=2", "train.batch_size=2", "train.log_every=1",
        "train.sample_every=2", "train.checkpoint_every=2", "train.val_every=2")


def source(name, root=None, **options):
    return get_plugins()["sources"].build(name, {**options, **({} if root is None else {"root": str(root)})})


def task(name, **options):
    return get_plugins()["tasks"].build(name, options)


def test_phantom_source_is_reproducible_with_disjoint_splits():
    s = source("phantom", size=32, train_count=5, val_count=3, test_count=3)
    assert s.splits() == ["train", "val", "test"]
    train, val = s.dataset("train"), s.dataset("val")
    assert len(train) == 5 and train[2]["target"].shape == (1, 32, 32)
    assert torch.equal(train[2]["target"], source("phantom", size=32).dataset("train")[2]["target"])
    assert not torch.equal(train[0]["target"], val[0]["target"])
    hu = train[1]["target"]
    assert hu.min() == -1000 and hu.max() > 300  # air outside the body, bone inside


def test_ct_source_falls_back_to_phantoms_without_a_root():
    s = source("ct", phantom_size=32, phantom_train_count=4)
    assert s.splits() == ["train", "val", "test"] and len(s.dataset("train")) == 4
    assert torch.equal(s.dataset("val")[1]["target"], source("phantom", size=32).dataset("val")[1]["target"])
    with pytest.raises(ValueError, match='source.name = "ct"'):
        source("phantom", root="/some/scans")


def test_medical_ct_recipe_runs_end_to_end_with_no_data(tmp_path):
    """The README's main job, shortened: phantoms, training, held-out evaluation, report."""
    from tests.conftest import run_i2i

    out = tmp_path / "run"
    result = run_i2i("run", "recipes/medical_ct.toml", "--out", out, "--quiet", *[f"--set={s}" for s in TINY],
                     "--set=source.phantom_size=32", "--set=train.final_eval_images=4")
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "eval.json").read_text())
    assert summary["split"] == "test" and summary["images"] == 4 and summary["task"] == "ct_sparse_view"
    for name in ("psnr", "ssim", "rmse_hu", "mae_hu"):
        assert summary["metrics"]["model"][name]["count"] == 4 and summary["metrics"]["input"][name]["count"] == 4
    assert (out / "report.html").exists()


def test_dicom_series_slices_match_pydicom_exactly():
    import pydicom
    from pydicom.pixels import apply_modality_lut

    root = data_path("ct", "pancreas", "dicom_series")
    ds = source("ct", root).dataset("train")
    assert len(set(ds.groups)) == 1
    for index in (0, len(ds) // 2, len(ds) - 1):
        sample = ds[index]
        file = sample["path"].split("#")[0]
        dicom = pydicom.dcmread(file)
        expected = apply_modality_lut(dicom.pixel_array, dicom).astype(np.float32)
        assert sample["target"].dtype == torch.float32
        assert np.array_equal(sample["target"][0].numpy(), expected)


def test_nifti_slices_match_nibabel_exactly_and_are_padded_with_air():
    import nibabel as nib

    root = data_path("ct", "totalsegmentator", "nifti", "example_ct_sm.nii.gz")
    ds = source("ct", root).dataset("train")
    data = nib.load(str(root)).get_fdata(dtype=np.float32)
    sample = ds[len(ds) // 2]
    k = int(sample["path"].split("#")[1])
    h, w = data.shape[:2]
    side = max(h, w)
    image = sample["target"][0].numpy()
    top, left = (side - h) // 2, (side - w) // 2
    assert image.shape == (side, side)
    assert np.array_equal(image[top:top + h, left:left + w], data[:, :, k])
    assert (image[:top] == -1000).all() and (image[top + h:] == -1000).all()


def test_sparse_view_pairs_are_in_hu_and_evaluation_is_fixed():
    t = task("ct_sparse_view", views=[20, 40])
    hu = source("phantom", size=64).dataset("train")[0]["target"].unsqueeze(0).repeat(2, 1, 1, 1)
    x, y = t.make_pair({"target": t.to_data_units(hu, "target")}, train=False)
    assert x.shape == y.shape == (2, 1, 64, 64)
    clean = t.decode_output(x, y)
    assert torch.allclose(clean, t.clean(hu), atol=1e-2)  # the target is the slice itself, in HU
    x2, _ = t.make_pair({"target": t.to_data_units(hu, "target")}, train=False)
    assert torch.equal(x, x2)
    table = MetricTable.of((), t)
    metrics = table.score(ScoredImages(t, x, x, y))
    clinical = {f"{w}_{m}" for w in ("brain", "soft") for m in ("psnr", "ssim", "mae_hu")} | {"bone_psnr"}
    assert set(metrics) == {"psnr", "ssim", "ms_ssim", "rmse_hu", "mae_hu"} | clinical
    assert (metrics["rmse_hu"] > 5).all() and (metrics["psnr"] < 45).all()
    same = table.score(ScoredImages(t, x, y, y))
    assert torch.all(same["psnr"] == 100.0) and torch.allclose(same["ssim"], torch.ones(2).double())
    assert torch.allclose(same["ms_ssim"], torch.ones(2).double()) and (metrics["ms_ssim"] < 1).all()
    assert torch.all(same["mae_hu"] == 0)


def test_fewer_views_mean_more_streaks():
    hu = source("phantom", size=64).dataset("train")[3]["target"].unsqueeze(0)
    errors = {}
    for views in (16, 64):
        t = task("ct_sparse_view", views=views)
        x, y = t.make_pair({"target": t.to_data_units(hu, "target")}, train=False)
        errors[views] = MetricTable.of((), t).score(ScoredImages(t, x, x, y))["rmse_hu"].item()
    assert errors[16] > 1.5 * errors[64]


@pytest.mark.parametrize("simulation", ["fast", "poisson"])
def test_low_dose_noise_grows_as_dose_falls(simulation):
    """Photon noise: its standard deviation grows as 1/sqrt(dose) on a noise-free phantom; a real
    scan already carries full-dose noise, so dose d inserts the variance of (1/d - 1)."""
    hu = source("phantom", size=64).dataset("train")[0]["target"].unsqueeze(0)
    noise = {}
    for dose, noiseless in ((0.01, True), (0.1, True), (0.25, False), (0.5, False), (1.0, False)):
        t = task("ct_low_dose", dose=dose, simulation=simulation, full_dose_I0=1e5)
        batch = {"target": t.to_data_units(hu, "target"), "noiseless": torch.tensor([noiseless])}
        x, y = t.make_pair(batch, train=False)
        noise[dose] = (t.decode_input(x) - t.decode_output(x, y))[..., 16:48, 16:48].std().item()
    assert noise[0.01] > 10  # HU: clearly visible at 1 % of 1e5 photons
    assert 2.7 < noise[0.01] / noise[0.1] < 3.7  # sqrt(10) = 3.16
    assert 1.5 < noise[0.25] / noise[0.5] < 2.0  # sqrt(3) = 1.73
    assert noise[1.0] < 0.01  # a full-dose scan at full dose: nothing inserted


def test_ct_tasks_refuse_8bit_images():
    t = task("ct_sparse_view")
    with pytest.raises(ValueError, match="HU"):
        t.to_data_units(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), "target")
    with pytest.raises(ValueError, match="HU"):
        t.input_from_image(torch.zeros(1, 8, 8, dtype=torch.uint8))


@pytest.mark.parametrize("root", [("ct", "pancreas", "dicom_series"), ("ct", "totalsegmentator", "nifti"),
                                  ("ct", "totalsegmentator", "dicom_series"),
                                  ("ct", "head_gantry_tilt", "dicom_series")])
def test_medical_recipe_trains_on_real_scans(tmp_path, root, capsys):
    """data.root alone switches the recipe from phantoms to real scans; held out by volume,
    or by slabs of slices when there is one volume. The recipe's own example, which failed
    before (one series cannot be split by volume): i2i run recipes/medical_ct.toml
    --set data.root=../shared/data/ct/pancreas/dicom_series --set data.val_fraction=0.1 --set data.test_fraction=0.1"""
    sets = [f'data.root="{data_path(*root)}"', "data.load_size=64", "data.crop_size=64",
            'data.preprocess="resize_and_crop"', "data.val_fraction=0.1", "data.test_fraction=0.1", *TINY]
    trainer = train_in_process("recipes/medical_ct.toml", tmp_path / "run", *sets)
    assert trainer.step == 2 and not trainer.data.splits["train"][0]["path"].startswith("phantom")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert "loss_g_l1" in records[-1]
    assert "val_psnr" in records[-1] and "val_input_psnr" in records[-1] and "val_mae_hu" in records[-1]
    splits = trainer.data.splits
    groups = {name: set(split.groups) for name, split in splits.items()}
    if len(groups["train"] | groups["val"] | groups["test"]) > 1:  # held out by volume
        assert not groups["train"] & (groups["val"] | groups["test"])
    else:  # one volume: test then val as contiguous slabs in the middle, two slices unused on each side
        test, val, train = splits["test"].indices, splits["val"].indices, splits["train"].indices
        assert test == list(range(test[0], test[-1] + 1)) and val == list(range(test[-1] + 1, val[-1] + 1))
        n = len(splits["train"].dataset.dataset)
        assert train == [*range(test[0] - 2), *range(val[-1] + 3, n)]
        assert abs((test[0] + val[-1]) / 2 - (n - 1) / 2) <= 1
        err = capsys.readouterr().err
        assert err.count("left to split") == 1 and "slabs of its slices: test = slices " \
            f"{test[0]}-{test[-1]}" in err and "weaker than a split by patient" in err


def test_slab_split_keeps_slabs_contiguous():
    from i2i.data.slabs import SlabLayout, slab_split

    middle = slab_split([None] * 10, {"test": 0.2}, SlabLayout(gap=0))
    assert (middle.held, middle.train, middle.unused) == ({"test": [4, 5]}, [0, 1, 2, 3, 6, 7, 8, 9], [])
    end = slab_split([None] * 10, {"test": 0.2, "val": 0.1}, SlabLayout(position=1.0, gap=1))
    assert (end.held, end.train, end.unused) == ({"test": [7, 8], "val": [9]}, [0, 1, 2, 3, 4, 5], [6])
    assert end.description == ("test = slices 7-8, val = slice 9, train = slices 0-5; 1 slice beside each held-out "
                               "slab unused")
    assert slab_split([None] * 2, {"test": 0.9}).held == {"test": [0]}  # the gap shrinks to leave training a slice
    assert slab_split([None], {"test": 0.5}).held == {}


def test_ct_samples_carry_their_pixel_spacing():
    nifti = source("ct", data_path("ct", "totalsegmentator", "nifti", "ct_cropped.nii.gz")).dataset("train")
    assert nifti.spacing_of(0) == pytest.approx((1.5, 1.5))
    assert torch.allclose(nifti[0]["spacing"], torch.tensor([1.5, 1.5]))
    dicom = source("ct", data_path("ct", "head_cptac_gbm", "dicom_series")).dataset("train")
    assert dicom.spacing_of(3) == pytest.approx((0.474609, 0.474609))
    sample = dicom[3]
    assert sample["spacing"].dtype == torch.float32 and torch.allclose(sample["spacing"], torch.tensor([0.474609] * 2))
    sideways = source("ct", data_path("ct", "totalsegmentator", "nifti", "example_ct_sm.nii.gz"), axis=0)
    assert sideways.dataset("train").spacing_of(0) == pytest.approx(tuple(
        __import__("nibabel").load(sideways.root).header.get_zooms()[1:3]))


def test_data_axis_out_of_range_is_a_usage_error():
    from i2i.errors import UsageError

    with pytest.raises(UsageError, match=r"source.axis = 5: a CT volume has axes 0, 1 and 2"):
        source("ct", data_path("ct", "totalsegmentator", "nifti"), axis=5)


def test_mr_to_ct_recipe_trains_with_a_patient_split(tmp_path):
    out = tmp_path / "run"
    trainer = train_in_process("recipes/mr_to_ct.toml", out, f'data.root="{data_path("mr_ct_brain")}"',
                               "data.load_size=64", "data.crop_size=64", *TINY)
    patients = {name: {p.split("/")[0] for p in ds.relative_paths} for name, ds in trainer.data.splits.items()}
    assert not patients["train"] & patients["val"] and not patients["train"] & patients["test"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert "val_psnr" in records[-1] and "val_input_psnr" not in records[-1]


def test_unusable_medical_inputs_name_the_file(tmp_path):
    import nibabel as nib
    import pydicom

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no CT volumes found"):
        source("ct", tmp_path / "empty").dataset("train")
    flat = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8), dtype=np.float32), np.eye(4)), str(flat))
    with pytest.raises(DataError, match="flat.nii.gz"):
        source("ct", flat).dataset("train")
    real = sorted(data_path("ct", "pancreas", "dicom_series").glob("*.dcm"))[0]
    dicom = pydicom.dcmread(real)
    del dicom.PixelData
    (tmp_path / "nopixels").mkdir()
    dicom.save_as(tmp_path / "nopixels" / "x.dcm")
    with pytest.raises(DataError, match="no slice can be read; the first: .*x.dcm: no pixel data"):
        source("ct", tmp_path / "nopixels").dataset("train")


def test_mr_to_ct_units_come_from_the_recipe_not_the_data():
    """A model loaded for prediction sees no CT: its output units must be stated."""
    hu_task = task("mr_to_ct", ct_units="hu", ct_hu_range=[-1000.0, 1000.0])
    y = torch.tensor([-1.0, 0.0, 1.0])
    assert torch.allclose(hu_task.decode_output(y, y), torch.tensor([-1000.0, 0.0, 1000.0]))
    image_task = task("mr_to_ct")
    y = torch.tensor([-1.0, 1.0])
    assert torch.allclose(image_task.decode_output(y, y), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match='ct_units = "hu" needs CT in HU'):
        hu_task.to_data_units(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), "target")
