"""Task presets: what each builds, and each training a few steps on real data."""

from __future__ import annotations

import json

import pytest
import torch

from i2i.plugins import get_plugins
from tests.conftest import data_path, train_in_process

TINY = ('generator.name="unet"', "generator.depth=6", "generator.ngf=4", "discriminator.ndf=4",
        "discriminator.n_layers=2", "train.steps=3", "train.batch_size=2", "train.log_every=1",
        "train.sample_every=3", "train.checkpoint_every=3", "data.load_size=72", "data.crop_size=64",
        "data.val_fraction=0.02", "train.val_every=3")


def task(name, **options):
    return get_plugins()["tasks"].build(name, options)


@pytest.mark.parametrize("recipe, root, extra", [
    ("facades", ("facades", "train"), ()),
    ("edges2shoes", ("edges2shoes_handbags", "train"), ()),
    ("colorization", ("facades", "train"), ('source.half="left"',)),
    ("inpainting", ("facades", "train"), ('source.half="left"',)),
    ("restoration", ("facades", "train"), ('source.half="left"', 'task.degradations=["blur", "noise", "jpeg", '
                                                                '"downsample"]')),
])
def test_each_preset_trains_on_real_data(tmp_path, recipe, root, extra):
    out = tmp_path / "run"
    trainer = train_in_process(f"recipes/{recipe}.toml", out, f'data.root="{data_path(*root)}"', *TINY, *extra)
    assert trainer.step == 3
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss_g"])) for r in records if "loss_g" in r)
    validation = [r for r in records if "val_psnr" in r]
    assert validation and 0 < validation[-1]["val_psnr"] < 100
    assert ("val_input_psnr" in validation[-1]) == trainer.task.has_baseline
    assert (out / "samples" / "step_00000003.png").exists()


def test_colorization_uses_lab_and_rebuilds_rgb():
    t = task("colorization")
    rgb = torch.rand(2, 3, 16, 16)
    x, y = t.make_pair({"target": rgb}, train=True)
    assert x.shape == (2, 1, 16, 16) and y.shape == (2, 2, 16, 16)
    assert x.min() >= -1 and x.max() <= 1 and y.abs().max() <= 1
    assert torch.allclose(t.decode_output(x, y), rgb, atol=1e-4)
    gray = torch.full((1, 8, 8), 128, dtype=torch.uint8)
    assert t.input_from_image(gray).shape == (1, 1, 8, 8)


def test_edges_are_binary_dark_lines_on_white():
    t = task("edges2photo")
    photo = torch.zeros(1, 3, 32, 32)  # data units: [0, 1]
    photo[..., 8:24, 8:24] = 1.0  # a white square
    x, y = t.make_pair({"target": photo}, train=False)
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    assert x[0, 0, 16, 16] == 1 and x[0, 0, 0, 0] == 1  # flat areas white
    assert (x[0, 0, 6:10, 16] == -1).any()  # the square's border is a line


def test_inpainting_masks_weights_and_composite():
    t = task("inpainting", mask="mixed", loss_region="weighted", hole_weight=6.0)
    unit = torch.rand(8, 3, 32, 32)  # data units
    y = unit * 2 - 1
    x, target = t.make_pair({"target": unit}, train=True)
    assert x.shape == (8, 4, 32, 32) and torch.equal(target, y)
    m = t.hole(x)
    assert set(m.unique().tolist()) <= {0.0, 1.0} and 0 < m.mean() < 1
    assert torch.equal(x[:, :3] * m, torch.zeros_like(x[:, :3]))  # the hole is blanked
    assert torch.equal(x[:, :3] * (1 - m), y * (1 - m))
    w = t.pixel_weights(x)
    assert set(w.unique().tolist()) == {1.0, 6.0}
    out = torch.zeros_like(y)
    composite = t.composite(x, out)
    assert torch.equal(composite * (1 - m), y * (1 - m)) and torch.equal(composite * m, torch.zeros_like(y))
    x1, _ = t.make_pair({"target": unit}, train=False)
    x2, _ = t.make_pair({"target": unit}, train=False)
    assert torch.equal(x1, x2)  # evaluation masks are fixed


def test_inpainting_loss_region_hole_ignores_known_pixels():
    from i2i.losses import weighted_mean

    t = task("inpainting", loss_region="hole")
    y = torch.rand(2, 3, 16, 16)
    x, _ = t.make_pair({"target": y}, train=True)
    err = torch.zeros_like(y)
    err[t.hole(x).expand_as(y) == 0] = 5.0  # errors only outside the hole
    assert weighted_mean(err, t.pixel_weights(x)).item() == 0.0


@pytest.mark.parametrize("degradation", ["noise", "blur", "jpeg", "downsample"])
def test_restoration_degrades_and_evaluation_is_fixed(degradation):
    t = task("restoration", degradations=[degradation])
    torch.manual_seed(0)
    unit = torch.rand(2, 3, 32, 32)  # data units
    x_train, y = t.make_pair({"target": unit}, train=True)
    assert x_train.shape == y.shape and x_train.abs().max() <= 1 and torch.equal(y, unit * 2 - 1)
    assert (x_train - y).abs().mean() > 1e-3
    a, _ = t.make_pair({"target": unit}, train=False)
    b, _ = t.make_pair({"target": unit}, train=False)
    assert torch.equal(a, b)


def test_restoration_rejects_bad_ranges():
    with pytest.raises(ValueError, match="jpeg_quality must lie in"):
        task("restoration", jpeg_quality=(0.0, 50.0))
    with pytest.raises(ValueError, match="degradations is empty"):
        task("restoration", degradations=[])


def test_every_task_implements_the_declared_interfaces():
    """Each concern the engine reads is a declared Protocol (i2i.taskspec), and every built-in
    task satisfies all of them, attributes included."""
    from i2i.plugins import get_plugins
    from i2i.taskspec import Measuring, PairMaking, Presentation, Values

    registry = get_plugins()["tasks"]
    for component in registry:
        built = registry.build(component.name, {})
        for protocol in (Values, PairMaking, Presentation, Measuring):
            assert isinstance(built, protocol), (component.name, protocol.__name__)
