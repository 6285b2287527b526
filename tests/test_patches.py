"""Training patches: cut from each pair after the task made it (the CT physics runs on the
whole slice), the same window in input and target; evaluation uses whole images."""

from __future__ import annotations

import torch

from i2i.data.geometry import random_patches
from tests.conftest import train_in_process


def test_patches_are_the_same_window_of_input_and_target():
    torch.manual_seed(0)
    x = torch.arange(2 * 1 * 20 * 24, dtype=torch.float32).view(2, 1, 20, 24)
    px, py = random_patches(x, -x, 8, count=3)
    assert px.shape == py.shape == (6, 1, 8, 8) and torch.equal(px, -py)
    for i in range(6):  # every patch is a window of its own image (values are positions)
        top, left = divmod(int(px[i, 0, 0, 0]) - (i // 3) * 20 * 24, 24)
        assert torch.equal(x[i // 3, 0, top:top + 8, left:left + 8], px[i, 0])
    small, _ = random_patches(x, x, 32)  # sides shorter than the patch are taken whole
    assert torch.equal(small, x)


def test_ct_trains_on_patches_of_whole_simulated_slices(tmp_path, monkeypatch):
    from i2i.medical import physics

    seen = []
    original = physics.sparse_view

    def spy(hu, *args, **kwargs):
        seen.append(tuple(hu.shape))
        return original(hu, *args, **kwargs)

    monkeypatch.setattr(physics, "sparse_view", spy)
    trainer = train_in_process("recipes/medical_ct.toml", tmp_path / "run", "train.steps=2", "train.batch_size=2",
                               "source.phantom_size=64", "source.phantom_train_count=4", "source.phantom_val_count=2",
                               "source.phantom_test_count=2", "data.patch_size=32", "data.patches_per_image=3",
                               "generator.ngf=4", "discriminator.ndf=4", "train.final_eval=false")
    assert trainer.step == 2
    assert (2, 1, 64, 64) in seen  # the physics ran on whole 64 x 64 slices
    x, y = trainer.data.prepare(next(trainer.data.batches(0)), train=True)
    assert x.shape == y.shape == (6, 1, 32, 32)
    vx, _ = trainer.data.prepare(trainer.sample_batches[0], train=False)
    assert vx.shape[-2:] == (64, 64)  # evaluation: whole slices
