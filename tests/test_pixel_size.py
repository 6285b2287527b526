"""Physical pixel size: a checkpoint records the pixel sizes it was trained at; predict and
eval resample inputs of another pixel size to them and back (saying so), and --native turns
it off."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from i2i.runs.checkpoint import latest_checkpoint, read_metadata
from i2i.inference.pixel_size import PixelRange, forward_at_trained_pixel_size, target_size
from tests.conftest import train_in_process

#: A fixed view count (8), not medical_ct's fraction: the input is tied to the trained pixel size, so
#: slices of another size are resampled (a fraction of full sampling applies as it is: see the last test).
CT = ("train.steps=2", "train.batch_size=2", "data.phantom_size=32", "data.phantom_train_count=4",
      "data.phantom_val_count=2", "data.phantom_test_count=2", "generator.ngf=4", "discriminator.ndf=4", "task.views=8")


def test_targets_and_sizes():
    trained = PixelRange(1.0, 2.0)
    assert trained.target(1.5) is None and trained.target(0.5) == 1.0 and trained.target(3.0) == 2.0
    assert trained.target(1.01) is None  # within 2 %
    assert target_size((512, 512), (0.5, 0.5), trained) == (256, 256)
    assert target_size((100, 60), (4.0, 1.5), trained) == (200, 60)  # each axis on its own
    assert target_size((64, 64), (1.2, 1.2), trained) is None


def test_forward_resamples_only_the_images_that_need_it():
    calls = []

    def run(x):
        calls.append(tuple(x.shape))
        return x * 2

    x = torch.rand(3, 1, 40, 40)
    spacing = torch.tensor([[1.5, 1.5], [0.5, 0.5], [1.5, 1.5]])
    out = forward_at_trained_pixel_size(run, x, spacing, PixelRange(1.0, 2.0))
    assert sorted(calls) == [(1, 1, 20, 20), (2, 1, 40, 40)]
    torch.testing.assert_close(out[[0, 2]], x[[0, 2]] * 2)
    assert out.shape == x.shape


def test_checkpoint_records_the_training_geometry(tmp_path):
    run = tmp_path / "run"
    trainer = train_in_process("recipes/medical_ct.toml", run, *CT, 'data.phantom_regions=["head"]')
    meta = read_metadata(latest_checkpoint(run / "checkpoints") / "generator.safetensors")
    geometry = json.loads(meta["geometry"])
    assert geometry == trainer.geometry
    assert geometry["pixel_mm"] == pytest.approx([250 / 32, 250 / 32]) and geometry["size_px"] == [32, 32]


def test_predict_resamples_a_finer_slice_and_says_so(tmp_path, cli):
    from i2i.inference.model import load_model
    from tests.dicom_fixtures import write_series

    run = tmp_path / "run"
    train_in_process("recipes/medical_ct.toml", run, *CT, 'data.phantom_regions=["head"]')
    model = load_model(run)
    assert model.pixel_range == PixelRange(250 / 32, 250 / 32)
    hu = np.full((1, 64, 64), -1000.0, dtype=np.float32)
    hu[:, 16:48, 16:48] = 40.0
    write_series(tmp_path / "in", hu, predictor=None, spacing=250 / 128)  # 4x finer pixels than the model's
    result = cli("predict", run, tmp_path / "in", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "1 of 1 image(s) have pixels outside the 7.81-7.81 mm" in result.output and "64x64 -> 16x16" in result.output
    native = cli("predict", run, tmp_path / "in", "--out", tmp_path / "native", "--native")
    assert native.exit_code == 0 and "resampled" not in native.output


def test_eval_resamples_data_of_another_pixel_size_and_records_it(tmp_path, cli):
    from tests.dicom_fixtures import head_volume, write_series

    run = tmp_path / "run"
    train_in_process("recipes/medical_ct.toml", run, *CT, 'data.phantom_regions=["head"]')
    write_series(tmp_path / "scan", head_volume(3, 64), predictor=None, spacing=250 / 128)
    out = tmp_path / "eval.json"
    result = cli("eval", run, "--data", tmp_path / "scan", "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["split"] == "all" and summary["images"] == 3
    assert any("3 of 3 image(s) have pixels outside" in w for w in summary["warnings"])
    assert "images outside that range are resampled" in summary["protocol"]["pixel_size"]
    native = cli("eval", run, "--data", tmp_path / "scan", "--native", "--out", tmp_path / "native.json")
    assert native.exit_code == 0
    plain = json.loads((tmp_path / "native.json").read_text())
    assert not plain["warnings"] and "--native" in plain["protocol"]["pixel_size"]
    assert plain["metrics"]["model"]["psnr"]["mean"] != summary["metrics"]["model"]["psnr"]["mean"]


def test_a_model_at_a_fraction_of_full_sampling_applies_at_any_pixel_size(tmp_path):
    """medical_ct's "1/8" is the same sampling at every slice size: the model records its pixel
    sizes but eval and predict do not resample (``Task.size_relative_input``); a fixed count is
    tied to the trained pixel size and is resampled."""
    from i2i import load_model

    run = tmp_path / "run"
    train_in_process("recipes/medical_ct.toml", run, *[s for s in CT if s != "task.views=8"])
    model = load_model(run)
    assert model.task.size_relative_input and model.pixel_range is None
    assert "geometry" in read_metadata(model.weights)  # still recorded, for fine-tuning's checks
    fixed = tmp_path / "fixed"
    train_in_process("recipes/medical_ct.toml", fixed, *CT)
    fixed_model = load_model(fixed)
    assert not fixed_model.task.size_relative_input and fixed_model.pixel_range is not None
