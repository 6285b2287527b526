"""Per-image CT metrics against scikit-image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from i2i.medical.hu import get_window, window_to_unit
from i2i.medical.metrics import ct_metrics, mae, psnr, rmse, ssim

skm = pytest.importorskip("skimage.metrics")


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    target = rng.normal(0, 400, (3, 1, 40, 48))
    return torch.from_numpy(target + rng.normal(0, 60, target.shape)), torch.from_numpy(target)


@pytest.mark.parametrize("window", ["abdomen", "lung", (0, 2000)])
def test_psnr_and_ssim_match_skimage(pair, window):
    pred, target = pair
    w = get_window(window)
    ours_p, ours_s = psnr(pred, target, window), ssim(pred.float(), target.float(), window)
    ours_cov = ssim(pred, target, window, sample_covariance=True)
    assert ours_p.shape == (3,) and ours_s.shape == (3,)
    for i in range(3):
        a = np.clip(target[i, 0].numpy(), w.lo, w.hi)
        b = np.clip(pred[i, 0].numpy(), w.lo, w.hi)
        assert ours_p[i].item() == pytest.approx(skm.peak_signal_noise_ratio(a, b, data_range=w.width), abs=1e-6)
        ua = window_to_unit(target[i, 0], w.center, w.width).numpy()
        ub = window_to_unit(pred[i, 0], w.center, w.width).numpy()
        ref = skm.structural_similarity(ua, ub, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False)
        assert ours_s[i].item() == pytest.approx(ref, abs=1e-5)
        ref_shifted = skm.structural_similarity(a - w.lo, b - w.lo, data_range=w.width, gaussian_weights=True,
                                                sigma=1.5, use_sample_covariance=False)
        assert ours_s[i].item() == pytest.approx(ref_shifted, abs=1e-5)
        ref_cov = skm.structural_similarity(ua, ub, data_range=1.0, gaussian_weights=True, sigma=1.5)
        assert ours_cov[i].item() == pytest.approx(ref_cov, abs=1e-6)


def test_identical_images(pair):
    _, target = pair
    assert (psnr(target, target) == 100.0).all()  # i2i.image_metrics.PSNR_CAP
    torch.testing.assert_close(ssim(target, target), torch.ones(3, dtype=target.dtype))
    assert (rmse(target, target) == 0).all() and (mae(target, target) == 0).all()


def test_rmse_mae_in_hu_and_masks():
    target = torch.zeros(2, 1, 16, 16)
    pred = target.clone()
    pred[0] += 10
    pred[1, :, :8] += 30
    assert rmse(pred, target).tolist() == pytest.approx([10.0, math.sqrt(450)])
    assert mae(pred, target).tolist() == pytest.approx([10.0, 15.0])
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[:8] = True
    assert mae(pred, target, mask=mask).tolist() == pytest.approx([10.0, 30.0])
    assert psnr(pred, target, (0, 2000), mask=~mask)[1] == 100.0  # capped: identical there
    metrics = ct_metrics(pred, target, "abdomen")
    assert set(metrics) == {"psnr", "ssim", "ms_ssim", "rmse_hu", "mae_hu"} and all(v.shape == (2,) for v in metrics.values())


def test_window_clips_before_scoring():
    target = torch.full((1, 1, 16, 16), 2000.0)
    pred = torch.full((1, 1, 16, 16), 1000.0)
    assert (psnr(pred, target, "abdomen") == 100.0).all()  # both white in the abdomen window
    # bone window W 2000 / L 500 = [-500, 1500] HU: the target clips to 1500
    assert psnr(pred, target, "bone").item() == pytest.approx(10 * math.log10(2000 ** 2 / (1500 - 1000) ** 2))
