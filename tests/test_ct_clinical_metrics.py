"""The clinical-window CT measures of i2i.medical.metrics against numpy and skimage."""

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from i2i.medical import metrics as M
from i2i.medical.hu import get_window


def slices(seed: int = 0, n: int = 2, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.full((n, 1, size, size), -1000.0)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    head = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size * 0.4) ** 2
    target[:, :, head] = 40.0 + 10 * torch.randn(n, 1, int(head.sum()), generator=g)
    target[:, :, 20:24, 10:40] = 900.0  # bone
    pred = target + 30 * torch.randn(target.shape, generator=g)
    return pred, target


def test_band_mae_is_the_mean_error_over_band_pixels():
    pred, target = slices()
    body = M.body_mask(target)
    got = M.band_mae(pred, target, (0.0, 80.0), mask=body)
    for i in range(2):
        p, t, b = pred[i, 0].numpy(), target[i, 0].numpy(), body[i, 0].numpy()
        sel = (t >= 0) & (t <= 80) & b
        assert sel.sum() > 500
        assert float(got[i]) == pytest.approx(np.abs(p[sel] - t[sel]).mean(), rel=1e-5)


def test_body_mask_fills_air_inside_the_body():
    target = torch.full((1, 1, 32, 32), -1000.0)
    target[..., 4:28, 4:28] = 40.0
    target[..., 12:18, 12:18] = -1000.0  # a sinus
    body = M.body_mask(target)
    assert bool(body[..., 14, 14]) and not bool(body[..., 2, 2])
    assert int(body.sum()) == 24 * 24


def _disc(size: int, cy: float, cx: float, radius: float) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((yy - cy) ** 2 + (xx - cx) ** 2) < radius ** 2


def test_body_mask_leaves_out_a_head_holder_and_a_table_but_keeps_arms():
    """Before: a head holder's shell (0..80 HU where it thins out) counted as brain pixels; on the
    top slices of a real head it was most of them."""
    head = torch.full((1, 1, 96, 96), -1000.0)
    head[..., _disc(96, 44, 48, 26)] = 40.0
    holder = _disc(96, 48, 48, 44) & ~_disc(96, 48, 48, 42)
    holder[:48] = False  # the U under the head, 2 px thick, apart from it
    head[..., holder] = 60.0
    body = M.body_mask(head)[0, 0]
    assert bool(body[44, 48]) and int(body.sum()) == int(_disc(96, 44, 48, 26).sum())
    assert not bool((body & holder).any())

    trunk = torch.full((1, 1, 128, 128), -1000.0)
    trunk[..., _disc(128, 60, 64, 34)] = 40.0
    arms = _disc(128, 60, 14, 10) | _disc(128, 60, 114, 10)
    trunk[..., arms] = 40.0
    trunk[..., 110:113, 8:120] = 300.0  # the table top, 3 px thick
    body = M.body_mask(trunk)[0, 0]
    assert bool(body[arms].all()) and not bool(body[110:113].any())
    assert M.body_mask(torch.full((2, 1, 16, 16), -1000.0)).sum() == 0  # no tissue at all


def test_real_head_top_slice_body_is_the_head_not_its_holder():
    import pydicom

    from tests.conftest import data_path

    ds = pydicom.dcmread(data_path("ct", "head_cptac_gbm", "dicom_series", "000152.dcm"))
    hu = torch.from_numpy(ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
    tissue, body = hu > -500, M.body_mask(hu[None, None])[0, 0]
    columns = body.any(0).nonzero().flatten()
    assert 0 < int(columns[-1] - columns[0]) < 200  # the top of the head; the holder spans 400 px
    left_out = tissue & ~body
    assert int(left_out.sum()) > 500 and int(left_out.any(0).nonzero().flatten().min()) < int(columns[0]) - 50


@pytest.mark.parametrize("window", ["brain", "soft_tissue", "bone"])
def test_window_ssim_matches_skimage_over_the_whole_slice_and_a_mask(window):
    pred, target = slices(1)
    w = get_window(window)
    body = M.body_mask(target)
    whole, masked = M.window_ssim(pred, target, window), M.window_ssim(pred, target, window, mask=body)
    for i in range(2):
        a = (pred[i, 0].double().clamp(w.lo, w.hi).numpy() - w.lo) / w.width
        b = (target[i, 0].double().clamp(w.lo, w.hi).numpy() - w.lo) / w.width
        score, full = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                            use_sample_covariance=False, full=True)
        assert float(whole[i]) == pytest.approx(score, abs=1e-5)
        pad = 5  # skimage's full map keeps the border; its mean drops (win - 1) // 2 on each side
        inner = full[pad:-pad, pad:-pad]
        sel = body[i, 0].numpy()[pad:-pad, pad:-pad]
        assert float(masked[i]) == pytest.approx(inner[sel].mean(), abs=1e-5)


def test_window_psnr_over_a_mask_is_the_clipped_mse():
    pred, target = slices(2)
    mask = M.band_mask(target, M.BRAIN_BAND, M.body_mask(target))
    got = M.psnr(pred, target, "brain", mask=mask)
    p, t, sel = pred[0, 0].numpy().clip(0, 80), target[0, 0].numpy().clip(0, 80), mask[0, 0].numpy()
    assert float(got[0]) == pytest.approx(10 * np.log10(80 ** 2 / ((p[sel] - t[sel]) ** 2).mean()), rel=1e-5)


def test_uniform_regions_take_flat_blocks_and_bias_measures_their_mean():
    g = torch.Generator().manual_seed(3)
    target = torch.full((1, 1, 64, 64), -1000.0)
    target[..., 8:56, 8:56] = 40.0 + 8 * torch.randn(1, 1, 48, 48, generator=g)  # noisy flat tissue
    target[..., 8:56, 32:56] += torch.linspace(-150, 150, 48).view(48, 1)  # a ramp: anatomy, not uniform
    regions = M.uniform_regions(target)
    assert regions.shape == (1, 1, 8, 8)
    assert bool(regions[..., 1:7, 1:4].all()) and not bool(regions[..., :, 4:].any()) and not bool(regions[..., 0, :].any())
    shifted = M.uniform_bias(target + 3.0, target, regions)
    assert float(shifted["bias_hu"]) == pytest.approx(3.0) and float(shifted["block_bias_hu"]) == pytest.approx(3.0)
    noisy = target + 20 * torch.randn(target.shape, generator=g)
    bias = M.uniform_bias(noisy, target, regions)
    sel = regions[0, 0].repeat_interleave(8, 0).repeat_interleave(8, 1)
    assert float(bias["bias_hu"]) == pytest.approx(float((noisy - target)[0, 0][sel].mean()), abs=1e-4)
    assert abs(float(bias["bias_hu"])) < 3 < 20
