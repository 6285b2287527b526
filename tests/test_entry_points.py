"""One answer from every entry point (issue 21): for a CT model applied to slices of another
pixel size, ``i2i eval``, ``i2i predict --pairs`` and the Python ``make_input`` + ``predict``
with the pixel size give the same slices, so the same PSNR per slice; ``predict`` says what it
takes its inputs to be, ``--from-clean`` makes them as eval does, and resampling is counted."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from tests.conftest import CT_RECIPE, train_in_process

#: A tiny sparse-view model trained on 64-pixel head phantoms: 250 / 64 = 3.9 mm pixels.
COARSE = ("train.steps=2", "train.batch_size=2", "source.phantom_size=64", "source.phantom_train_count=4",
          "source.phantom_val_count=2", "source.phantom_test_count=2", "generator.ngf=4", "discriminator.ndf=4",
          'source.phantom_regions=["head"]', "task.views=8")  # a count: resampled (a fraction is not)
#: The real-scanner-like slices it is applied to: 128 pixels of 250 / 256 mm (4x finer).
FINE_MM = 250 / 256


@pytest.fixture(scope="module")
def coarse_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("coarse") / "run"
    train_in_process(CT_RECIPE, run, *COARSE)
    return run


@pytest.fixture(scope="module")
def fine_scan(tmp_path_factory):
    from tests.dicom_fixtures import head_volume, write_series

    folder = tmp_path_factory.mktemp("fine") / "scan"
    hu = head_volume(3, 128)
    write_series(folder, hu, predictor=None, spacing=FINE_MM)
    return folder, hu


def ct_psnr(model, out_hu: torch.Tensor, clean_hu: torch.Tensor) -> float:
    """The model's own PSNR (CT: inside the metric window and the field of view) of one slice in HU."""
    from i2i.metrics import MetricTable, ScoredImages
    from i2i.plugins import get_plugins

    task = model.task
    target = task.encode_target(task.clean(clean_hu.view(1, 1, *clean_hu.shape[-2:]).float()))
    output = task.encode_target(out_hu.view(1, 1, *out_hu.shape[-2:]).float())
    table = MetricTable.registered(get_plugins()["metrics"], task)
    return float(table.score(ScoredImages(task, output, output, target))["psnr"][0])


def test_eval_predict_pairs_and_python_predict_agree_per_slice(coarse_run, fine_scan, tmp_path, cli):
    """Before: predict --pairs ignored the model's pixel size (13.9 dB against eval's 18.7 dB
    on one real slice), and the Python predict had no pixel size at all."""
    import i2i

    folder, hu = fine_scan
    model = i2i.load_model(coarse_run)
    assert model.pixel_range.low == pytest.approx(250 / 64)
    result = cli("eval", coarse_run, "--data", folder, "--out", tmp_path / "eval.json")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "eval.csv").open()))
    assert len(rows) == 3 and "3 of 3 image(s) have pixels outside" in result.output
    by_eval = [float(r["model_psnr"]) for r in rows]

    pairs = cli("predict", coarse_run, folder, "--pairs", "--out", tmp_path / "pairs")
    assert pairs.exit_code == 0, pairs.output
    assert "3 of 3 image(s) have pixels outside" in pairs.output
    outputs = sorted((tmp_path / "pairs").rglob("*.npy"))
    assert len(outputs) == 3
    by_pairs = [ct_psnr(model, torch.from_numpy(np.load(p)).float(), torch.from_numpy(hu[k]))
                for k, p in enumerate(outputs)]

    by_python = []
    for k in range(3):
        made = i2i.make_input(model, hu[k], pixel_size_mm=FINE_MM, index=k)
        assert made.shape == hu[k].shape and made.dtype == np.float32
        out = i2i.predict(model, made, pixel_size_mm=FINE_MM)
        in_one_step = i2i.predict(model, hu[k], pixel_size_mm=(FINE_MM, FINE_MM), from_clean=True, index=k)
        np.testing.assert_allclose(in_one_step, out, atol=1e-3)
        by_python.append(ct_psnr(model, torch.from_numpy(out), torch.from_numpy(hu[k])))
    for k in range(3):
        assert by_pairs[k] == pytest.approx(by_eval[k], abs=0.01), (k, by_pairs, by_eval)
        assert by_python[k] == pytest.approx(by_eval[k], abs=0.01), (k, by_python, by_eval)
    # without the pixel size the model runs at the slice's own grid: another answer, and a warning
    from i2i.messages import said_to

    lines: list[str] = []
    with said_to(lines.append):
        plain = i2i.predict(model, i2i.make_input(model, hu[0], pixel_size_mm=FINE_MM), )
    assert any("no pixel_size_mm was given" in line for line in lines), lines
    assert abs(ct_psnr(model, torch.from_numpy(plain), torch.from_numpy(hu[0])) - by_eval[0]) > 0.01


def test_predict_says_what_it_takes_its_inputs_to_be_and_makes_them_from_clean_scans(coarse_run, fine_scan, tmp_path,
                                                                                     cli):
    """Before: plain predict ran a sparse-view model on clean scans without a word (the
    ventricles vanished), and its resampling note was lost for folders."""
    import pydicom

    folder, hu = fine_scan
    plain = cli("predict", coarse_run, folder, "--out", tmp_path / "plain")
    assert plain.exit_code == 0, plain.output
    assert plain.output.count("inputs are taken as") == 1
    assert "in HU; give clean images with --from-clean" in plain.output
    assert "3 of 3 image(s) have pixels outside" in plain.output and "(e.g. IM0001: 128x128 -> 32x32)" in plain.output
    made = cli("predict", coarse_run, folder, "--from-clean", "--out", tmp_path / "made")
    assert made.exit_code == 0, made.output
    assert "inputs are taken as" not in made.output
    pairs = cli("predict", coarse_run, folder, "--pairs", "--out", tmp_path / "pairs", "--quiet")
    assert pairs.exit_code == 0, pairs.output
    made_files, pair_files = sorted((tmp_path / "made").iterdir()), sorted((tmp_path / "pairs").rglob("*.npy"))
    for k, (dcm, npy) in enumerate(zip(made_files, pair_files)):
        ds = pydicom.dcmread(dcm)
        written = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_allclose(written, np.load(npy), atol=1.0)  # what eval scores, to the DICOM's 1 HU steps
        assert np.abs(written - np.load(npy)).max() <= 1.0 and not np.allclose(written, hu[k], atol=1.0)


def test_from_clean_needs_a_task_that_makes_its_input(tmp_path, tiny_recipe, cli, synthetic_images):
    run = tmp_path / "run"
    train_in_process(tiny_recipe, run, "train.steps=1")
    result = cli("predict", run, synthetic_images, "--from-clean", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "takes its input from files" in result.output, result.output
    plain = cli("predict", run, synthetic_images / "00.png", "--out", tmp_path / "plain")
    assert plain.exit_code == 0 and "inputs are taken as" not in plain.output
