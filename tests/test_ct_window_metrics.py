"""CT metrics in the clinical windows, by region: values against numpy, "not applicable"
where a window is not read (a brain window on a trunk), and how means, eval.json and the
gap warnings treat that."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from i2i.data.loader import collate_samples
from i2i.evaluation.measure import mean_metrics, score_batches
from i2i.evaluation.summary import _stats, metric_gaps
from i2i.medical.window_metrics import clinical_metrics
from i2i.metrics import MetricTable
from i2i.plugins import get_plugins


def slices(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A head (brain 30-50 HU in a skull ring) and a trunk (soft tissue, fat, a bone), 48 px, and noisy copies."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    r = ((yy - 23.5) ** 2 + (xx - 23.5) ** 2).sqrt()
    target = torch.full((2, 1, 48, 48), -1000.0)
    target[0, 0][r < 20] = 1500.0
    target[0, 0][r < 17] = 40.0 + 10 * torch.randn(int((r < 17).sum()), generator=g)
    target[1, 0][r < 22] = -90.0
    target[1, 0][r < 18] = 50.0 + 20 * torch.randn(int((r < 18).sum()), generator=g)
    target[1, 0, 30:36, 20:28] = 700.0
    return target + 25 * torch.randn(target.shape, generator=g), target


def test_each_window_on_its_regions_against_numpy():
    pred, target = slices()
    values, applies = clinical_metrics(pred, target, ["head", "trunk"])
    for name, expected in {"brain_psnr": [True, False], "brain_mae_hu": [True, False], "soft_psnr": [False, True],
                           "soft_ssim": [False, True], "bone_psnr": [True, True]}.items():
        assert applies[name].tolist() == expected, name
        assert [math.isfinite(v) for v in values[name].tolist()] == expected, name
    p, t = pred.double().numpy()[:, 0], target.double().numpy()[:, 0]
    body = t > -500  # the discs have no air inside
    for i, (prefix, lo, hi) in enumerate([("brain", 0.0, 80.0), ("soft", -160.0, 240.0)]):
        band = body[i] & (t[i] >= lo) & (t[i] <= hi)
        counted = band if prefix == "brain" else body[i]  # the brain window scores the brain alone
        a, b = np.clip(p[i], lo, hi)[counted], np.clip(t[i], lo, hi)[counted]
        expected = 10 * np.log10((hi - lo) ** 2 / np.mean((a - b) ** 2))
        assert float(values[f"{prefix}_psnr"][i]) == pytest.approx(expected, rel=1e-6)
        assert float(values[f"{prefix}_mae_hu"][i]) == pytest.approx(np.abs(p[i] - t[i])[band].mean(), rel=1e-6)
    a, b = np.clip(p, -500, 1500), np.clip(t, -500, 1500)
    bone = [10 * np.log10(2000 ** 2 / np.mean((a[i] - b[i])[body[i]] ** 2)) for i in range(2)]
    assert values["bone_psnr"].tolist() == pytest.approx(bone, rel=1e-6)


def test_a_slice_without_the_window_s_tissue_or_body_is_not_applicable():
    pred, target = slices()
    target[0, 0][target[0, 0] < 1000] = -1000.0  # a head slice of skull and air only: no brain-range pixel
    target[1] = -1000.0  # no body at all
    values, applies = clinical_metrics(pred, target, ["head", "unknown"])
    assert not applies["brain_psnr"].any() and not applies["brain_mae_hu"].any() and not applies["soft_psnr"].any()
    assert applies["bone_psnr"].tolist() == [True, False]
    assert math.isnan(values["brain_mae_hu"][0]) and math.isfinite(values["bone_psnr"][0])


def test_the_ct_task_declares_them_with_direction_and_range():
    task = get_plugins()["tasks"].build("ct_sparse_view", {"views": 16})
    table = MetricTable.of((), task)
    for name, up, span in [("brain_psnr", True, 80.0), ("brain_ssim", True, 80.0), ("brain_mae_hu", False, None),
                           ("soft_psnr", True, 400.0), ("soft_mae_hu", False, None), ("bone_psnr", True, 2000.0)]:
        record = table.get(name)
        assert (record.higher_is_better, record.data_range) == (up, span) and record.applies is not None
        assert table.higher_is_better(f"val_ema_{name}") is up
    assert table.get("psnr").applies is None


def test_means_count_only_the_images_a_metric_applies_to():
    """Validation and eval score phantoms of both regions: brain_* average over the heads alone,
    soft_* over the trunks, and the NaN of "not applicable" is flagged, not counted."""
    plugins = get_plugins()
    dataset = plugins["sources"].build("phantom", {"size": 32, "test_count": 8}).dataset("test")
    samples = [{**dataset[i], "index": i} for i in range(8)]
    task = plugins["tasks"].build("ct_sparse_view", {"views": 8})
    table = MetricTable.registered(plugins["metrics"], task)

    def prepare(raw, train):
        return task.make_pair({**raw, "target": task.to_data_units(raw["target"], "target")}, train)

    scored = list(score_batches([collate_samples(samples[:5]), collate_samples(samples[5:])], prepare, task,
                                {"model": nn.Identity()}, table, baseline=False))
    heads = [s["region"] == "head" for s in samples]
    assert 0 < sum(heads) < 8
    flags = torch.cat([b.not_applicable["model"]["brain_psnr"] for b in scored]).tolist()
    assert flags == [not h for h in heads]
    values = torch.cat([b.metrics["model"]["brain_psnr"] for b in scored])
    means = mean_metrics(scored)
    assert means["val_brain_psnr"] == pytest.approx(float(values[torch.tensor(heads)].mean()))
    assert means["val_soft_psnr"] == pytest.approx(
        float(torch.cat([b.metrics["model"]["soft_psnr"] for b in scored])[~torch.tensor(heads)].mean()))


def test_eval_json_counts_not_applicable_apart_and_gaps_warn_only_about_failures():
    stats = _stats([20.0, None, 22.0, None])
    assert (stats["mean"], stats["count"], stats["not_applicable"]) == (21.0, 2, 2)
    assert "not_applicable" not in _stats([1.0, 2.0])
    summary = {"images": 4, "metrics": {"model": {"brain_psnr": stats, "psnr": _stats([1.0, 2.0, 3.0, 4.0]),
                                                  "soft_psnr": _stats([float("nan"), None, 3.0, None])}}}
    gaps = metric_gaps(summary)
    assert gaps == ["soft_psnr of the model is n/a for 1 of 4 image(s): its values are NaN or infinite (check the "
                    "checkpoint's weights and the data)"]


def test_the_report_says_on_how_many_images_and_hides_metrics_meant_for_none():
    from i2i.report.page import _eval_table

    evaluation = {"images": 4, "split": "test", "regions": {"head": 2, "trunk": 2},
                  "metrics": {"model": {"brain_psnr": _stats([20.0, None, 22.0, None]),
                                        "lung_psnr": _stats([None] * 4), "psnr": _stats([1.0, 2.0, 3.0, 4.0])}},
                  "definitions": {"brain_psnr": "PSNR in dB in the brain window (W 80 / L 40)"}}
    page = _eval_table(evaluation)
    assert "brain_psnr <span class=\"meta\">on 2 of 4 images (not applicable to 2)</span>" in page
    assert "lung_psnr" not in page and "4 image(s) (2 head, 2 trunk)" in page
    assert "<li>brain_psnr: PSNR in dB in the brain window (W 80 / L 40)</li>" in page
