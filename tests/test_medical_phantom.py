"""Random anatomical-like phantoms."""

from __future__ import annotations

import torch

from i2i.medical.phantom import phantom_parameters, phantoms, random_phantoms
from i2i.medical.projector import circle_mask


def test_shape_range_and_air_outside_the_circle():
    x = phantoms(range(8), 64, seed=0)
    assert x.shape == (8, 1, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1000 and x.max() <= 1300
    assert (x[..., ~circle_mask(64)] == -1000).all()
    assert (x[..., 0, :] == -1000).all()  # air around the body


def test_each_sample_depends_only_on_seed_and_index():
    batch = phantoms([3, 4, 5], 48, seed=7)
    assert torch.equal(phantoms([4], 48, seed=7)[0], batch[1])
    assert torch.equal(phantoms([5, 3], 48, seed=7), batch[[2, 0]])
    assert not torch.equal(phantoms([4], 48, seed=8)[0], batch[1])
    assert not torch.equal(batch[0], batch[1])


def test_generator_draws_a_seed_without_touching_the_global_rng():
    state = torch.get_rng_state()
    a = random_phantoms(2, 32, generator=torch.Generator().manual_seed(1))
    b = random_phantoms(2, 32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(random_phantoms(2, 32, seed=5), phantoms([0, 1], 32, seed=5))


def test_tissue_classes_are_present():
    x = phantoms(range(16), 96, seed=2)
    body = x > -990
    assert (x > 300).flatten(1).any(1).all()  # bone in every slice
    assert ((x > 100) & (x < 300)).flatten(1).any(1).all()  # contrast vessels
    assert ((x > -130) & (x < -70)).flatten(1).any(1).all()  # fat
    assert ((x > 0) & (x < 80)).flatten(1).sum(1).gt(body.flatten(1).sum(1) // 4).all()  # soft tissue/organs
    inner_air = (x < -800) & (x > -1001)
    inner_air[..., :, :8] = False
    assert inner_air.flatten(1).any(1).float().mean() > 0  # lungs or bowel gas in some slices


def test_parameters_do_not_depend_on_size():
    blobs, waves = phantom_parameters(0, 3)
    again, _ = phantom_parameters(0, 3)
    assert (blobs == again).all() and blobs.shape[1] == 13 and waves.shape == (6, 4)
    small, large = phantoms([3], 32, seed=0), phantoms([3], 128, seed=0)
    down = torch.nn.functional.avg_pool2d(large, 4)
    assert (down - small).abs().mean() < 40  # same anatomy at both sizes
