"""Engine parts: schedules, EMA, image pool, precision, accumulation, clipping, loss variants."""

from __future__ import annotations

import json
import math

import pytest
import torch

from i2i.assembly.components import LossTerm, build_schedule
from i2i.engine.ema import EMA
from i2i.engine.gan_step import GANStep
from i2i.engine.image_pool import ImagePool
from i2i.engine.precision import Precision, resolve_precision
from i2i.errors import UsageError
from i2i.metrics import GENERIC_METRICS, MetricTable
from i2i.plugins import get_plugins
from i2i.recipe import ComponentSpec
from tests.conftest import train_in_process


def schedule(total, name, **options):
    return build_schedule(get_plugins(), ComponentSpec(name, options), total, MetricTable.of(GENERIC_METRICS).higher_is_better)


def factors(total, name, **options):
    s = schedule(total, name, **options)
    return [s.factor(i) for i in range(total)]


def test_linear_schedule_is_pix2pix_in_steps():
    # pix2pix with n_epochs = n_epochs_decay = 2 (1 step per epoch): 1, 1, then 1 - k/3 for the decay epochs
    assert factors(4, name="linear", decay_start=0.5) == pytest.approx([1, 1, 2 / 3, 1 / 3])
    f = factors(200, name="linear", decay_start=0.5)
    assert f[99] == 1 and f[100] == pytest.approx(1 - 1 / 101) and f[-1] == pytest.approx(1 / 101)


def test_step_cosine_warmup():
    assert factors(6, name="step", step_size=2, gamma=0.5) == [1, 1, 0.5, 0.5, 0.25, 0.25]
    c = factors(5, name="cosine", min_factor=0.0)
    assert c[0] == 1 and c[2] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.4))) and c[4] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.8)))
    w = factors(4, name="constant", warmup_steps=4)
    assert w == [0.25, 0.5, 0.75, 1.0]


def test_plateau_decays_after_patience_and_round_trips():
    options = {"metric": "val_psnr", "factor": 0.5, "patience": 1, "threshold": 0.0}
    s = schedule(100, "plateau", **options)
    for value in (20.0, 21.0, 21.0, 20.5):
        s.observe({"val_psnr": value})
    assert s.factor(10) == 0.5  # two passes without improvement > patience 1
    restored = schedule(100, "plateau", **options)
    restored.load_state_dict(s.state_dict())
    assert restored.factor(10) == 0.5 and restored.best == 21.0


def test_ema_follows_the_formula_and_copies_buffers():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ema = EMA(net, decay=0.9)
    before = [p.detach().clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
        net[1].running_mean.fill_(3.0)
    ema.update(net)
    for b, e, p in zip(before, ema.module.parameters(), net.parameters()):
        assert torch.allclose(e, 0.9 * b + 0.1 * p)
    assert torch.equal(ema.module[1].running_mean, net[1].running_mean)
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_image_pool_fills_then_swaps_half_the_time():
    torch.manual_seed(0)
    pool = ImagePool(2)
    a, b = torch.zeros(2, 1, 1, 1), torch.ones(2, 1, 1, 1)
    assert torch.equal(pool.query(a), a) and len(pool.images) == 2
    outs = torch.cat([pool.query(torch.full((1, 1, 1, 1), float(i))) for i in range(2, 202)]).flatten()
    swapped = (outs != torch.arange(2, 202).float()).float().mean().item()
    assert 0.35 < swapped < 0.65
    state = pool.state_dict()
    other = ImagePool(2)
    other.load_state_dict(state, torch.device("cpu"))
    assert all(torch.equal(x, y) for x, y in zip(pool.images, other.images))
    del b


def test_precision_rules():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    with pytest.raises(UsageError, match="'fp16' needs a CUDA device"):
        resolve_precision("fp16", cpu)
    conv = torch.nn.Conv2d(1, 1, 3)
    with Precision("bf16", cpu).autocast():
        assert conv(torch.randn(1, 1, 8, 8)).dtype == torch.bfloat16
    with Precision("fp32", cpu).autocast():
        assert conv(torch.randn(1, 1, 8, 8)).dtype == torch.float32


def _regression_step(accumulate_batches, clip=None):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 1, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    from i2i.plugins import get_plugins

    terms = [LossTerm("l2", 1.0, get_plugins()["losses"].build("l2", {}))]
    step = GANStep(net, None, opt, None, terms, Precision("fp32", torch.device("cpu")), clip_grad_norm=clip)
    logs = step(accumulate_batches)
    return net, logs


def test_accumulation_equals_the_large_batch_without_a_discriminator():
    torch.manual_seed(1)
    x, y = torch.randn(4, 1, 6, 6), torch.randn(4, 1, 6, 6)
    big, logs_big = _regression_step([(x, y)])
    small, logs_small = _regression_step([(x[:2], y[:2]), (x[2:], y[2:])])
    for a, b in zip(big.parameters(), small.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(logs_big["loss_g"], logs_small["loss_g"], atol=1e-6)


def test_gradient_clipping_bounds_the_norm():
    x, y = torch.randn(2, 1, 6, 6) * 100, torch.randn(2, 1, 6, 6)
    net, _ = _regression_step([(x, y)], clip=0.01)
    norm = torch.norm(torch.stack([p.grad.norm() for p in net.parameters()]))
    assert norm <= 0.01 * (1 + 1e-4)


@pytest.mark.parametrize("sets", [
    ("train.precision=\"bf16\"",),
    ("losses.gan.name=\"lsgan\"",),
    ("losses.gan.name=\"hinge\"",),
    ("losses.gan.name=\"wgangp\"", "losses.gan.gp_weight=10.0"),
    ("losses.gan.name=\"vanilla\"", "losses.fm.name=\"feature_matching\"", "losses.fm.weight=10.0"),
    ("discriminator.name=\"multiscale\"", "discriminator.num_D=3", "discriminator.ndf=4", "losses.gan.name=\"lsgan\"",
     "losses.fm.name=\"feature_matching\"", "losses.fm.weight=10.0"),
    ("losses.ssim.name=\"ssim\"", "losses.ssim.weight=1.0", "train.accumulate=2", "train.clip_grad_norm=1.0"),
    ("discriminator.name=\"none\"", "losses.gan.weight=0"),
], ids=["bf16", "lsgan", "hinge", "wgangp", "feature_matching", "multiscale+feature_matching", "ssim+accumulate+clip", "no-discriminator"])
def test_loss_and_precision_variants_train(tiny_recipe, tmp_path, monkeypatch, sets):
    from i2i.engine import precision

    monkeypatch.setattr(precision, "cpu_native_bf16", lambda: True)  # bf16 on any CPU that runs the tests
    out = tmp_path / "run"
    train_in_process(tiny_recipe, out, "train.steps=2", "train.log_every=1", *sets)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        losses = {k: v for k, v in record.items() if k.startswith("loss_")}
        assert losses and all(math.isfinite(v) for v in losses.values())
    if "wgangp" in sets[0]:
        assert "loss_d_penalty" in records[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 with a grad scaler and torch.compile need a CUDA GPU")
def test_fp16_and_compile_on_gpu(tiny_recipe, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run([sys.executable, "-m", "i2i", "run", str(tiny_recipe), "--device", "cuda", "--quiet",
                             "--out", str(tmp_path / "gpu"), "--set", "train.steps=3", "--set", 'train.precision="fp16"',
                             "--set", "train.compile=true"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
