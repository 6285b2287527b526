"""Sparse-view and low-dose pair simulation."""

from __future__ import annotations

import pytest
import torch

from i2i.medical.metrics import psnr
from i2i.medical.phantom import phantoms
from i2i.medical.physics import (draw_per_sample, full_view_count, low_dose, mask_outside_circle,
                                 sparse_view)
from i2i.medical.projector import circle_mask


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    return phantoms(range(4), 64, seed=1)


def test_sparse_view_returns_hu_with_streaks(clean):
    out = sparse_view(clean, 24)
    assert out.shape == clean.shape and out.dtype == clean.dtype
    assert (out[..., ~circle_mask(64)] == -1000).all()
    many = sparse_view(clean, full_view_count(64))
    assert (psnr(many, clean, (0, 2000)) > psnr(out, clean, (0, 2000)) + 1).all()
    assert (psnr(out, clean, (0, 2000)) > 20).all()


def test_per_sample_views_match_single_calls(clean):
    views = torch.tensor([10, 30, 20, 10])
    batch = sparse_view(clean, views)
    for i, v in enumerate(views.tolist()):
        torch.testing.assert_close(batch[i], sparse_view(clean[i:i + 1], v)[0], atol=2e-3, rtol=1e-5)


def test_draws_are_reproducible_and_leave_the_global_rng_alone(clean):
    state = torch.get_rng_state()
    a = low_dose(clean, (1e4, 1e5), (0.0, 5.0), views=(20, 40), generator=torch.Generator().manual_seed(3))
    b = low_dose(clean, (1e4, 1e5), (0.0, 5.0), views=(20, 40), generator=torch.Generator().manual_seed(3))
    c = low_dose(clean, (1e4, 1e5), (0.0, 5.0), views=(20, 40), generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)
    s1 = sparse_view(clean, (8, 40), generator=torch.Generator().manual_seed(0))
    s2 = sparse_view(clean, (8, 40), generator=torch.Generator().manual_seed(0))
    assert torch.equal(s1, s2)


def test_draw_per_sample_ranges():
    g = torch.Generator().manual_seed(0)
    views = draw_per_sample(1000, (30, 90), generator=g, integer=True)
    assert views.dtype == torch.long and views.min() == 30 and views.max() == 90
    dose = draw_per_sample(1000, (1e3, 1e6), generator=g, log=True)
    assert 1e3 <= dose.min() and dose.max() <= 1e6 and 3.3 < dose.log10().median() < 3.7 + 1
    assert draw_per_sample(3, 5.0).tolist() == [5.0, 5.0, 5.0]
    assert draw_per_sample(2, torch.tensor([1, 2]), integer=True).tolist() == [1, 2]
    with pytest.raises(ValueError, match="expected 3 per-sample values"):
        draw_per_sample(3, torch.tensor([1.0, 2.0, 3.0, 4.0]))


def test_low_dose_noise_grows_as_dose_falls(clean):
    g = torch.Generator().manual_seed(0)
    quiet = low_dose(clean, 1e7, generator=g)
    noisy = low_dose(clean, 1e4, generator=g)
    electronic = low_dose(clean, 1e4, 30.0, generator=g)
    p = [psnr(x, clean, "abdomen").mean() for x in (quiet, noisy, electronic)]
    assert p[0] > p[1] > p[2]
    # At a huge dose the noise vanishes: the result is the noiseless full-view FBP, in HU.
    huge = low_dose(clean, 1e9, generator=g)
    torch.testing.assert_close(huge, sparse_view(clean, full_view_count(64)), atol=3.0, rtol=0)
    assert abs(float((huge - clean).mean())) < 1.0


def test_low_dose_accepts_pixel_size_and_per_sample_dose(clean):
    g = torch.Generator().manual_seed(0)
    out = low_dose(clean, torch.tensor([1e4, 1e5, 1e6, 1e7]), pixel_size_mm=torch.tensor([1.0, 2.0, 3.0, 4.0]),
                   views=32, generator=g)
    assert out.shape == clean.shape and torch.isfinite(out).all()


def test_mask_outside_circle():
    x = torch.zeros(1, 1, 16, 16)
    out = mask_outside_circle(x)
    assert out[0, 0, 0, 0] == -1000 and out[0, 0, 8, 8] == 0


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="square HU slices"):
        sparse_view(torch.zeros(1, 2, 8, 8), 4)
