"""Precision on every device, checked on the CPU: SSIM in float32 under autocast, ``precision =
"auto"`` picking bf16 only where it is native, the output layer of HU regression in float32,
and the WGAN-GP penalty's gradient taken through the fp16 grad scaler."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from i2i.engine import precision as P


def _ssim_grad(autocast: bool) -> torch.Tensor:
    from i2i_plugins.losses.reconstruction import SSIM

    g = torch.Generator().manual_seed(0)
    base = 0.6 + 0.05 * torch.rand(2, 1, 32, 32, generator=g)  # an output close to its target
    output = (base + 0.01 * torch.randn(2, 1, 32, 32, generator=g)).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        SSIM()(output, base).backward()
    return output.grad


def test_ssim_loss_gradient_under_bf16_autocast_matches_fp32():
    """Before: E[x^2] - E[x]^2 cancelled in bf16, a gradient error 4.4 times the gradient."""
    reference, mixed = _ssim_grad(False), _ssim_grad(True)
    assert ((mixed - reference).norm() / reference.norm()) < 1e-6


def test_ms_ssim_under_autocast_is_the_fp32_value():
    from i2i.image_metrics import ms_ssim

    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 1, 180, 180, generator=g), torch.rand(2, 1, 180, 180, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = ms_ssim(x, y, 1.0)
    assert torch.equal(mixed, ms_ssim(x, y, 1.0))


@pytest.mark.parametrize("capability, emulated, expected", [((7, 5), True, "fp32"), ((7, 0), True, "fp32"),
                                                             ((8, 0), True, "bf16"), ((9, 0), True, "bf16")])
def test_auto_precision_picks_bf16_only_where_it_is_native(monkeypatch, capability, emulated, expected):
    """Before: ``torch.cuda.is_bf16_supported()`` said yes on a T4 (sm75), where bf16 is emulated."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: emulated)
    monkeypatch.setattr(torch.version, "hip", None)
    assert P.resolve_precision("auto", torch.device("cuda", 0)) == expected
    assert P.resolve_precision("auto", torch.device("cpu")) == "fp32"


def test_explicit_bf16_on_an_emulating_gpu_is_warned_about(monkeypatch):
    from i2i.messages import said_to

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    monkeypatch.setattr(torch.version, "hip", None)
    lines: list[str] = []
    with said_to(lines.append):
        assert P.resolve_precision("bf16", torch.device("cuda", 0)) == "bf16"
    assert len(lines) == 1 and "Tesla T4" in lines[0] and "7.5" in lines[0] and "emulated" in lines[0]


def test_cpu_native_bf16_reads_the_cpu_flags(tmp_path):
    amx, avx512, avx2 = (tmp_path / name for name in ("amx", "avx512", "avx2"))
    amx.write_text("processor : 0\nflags : fpu avx2 avx512f amx_tile amx_bf16\n")
    avx512.write_text("flags : fpu avx2 avx512f avx512_bf16\n")
    avx2.write_text("flags : fpu sse4_2 avx2 fma\n")
    arm = tmp_path / "arm"
    arm.write_text("processor : 0\nFeatures : fp asimd sve bf16 i8mm\n")
    assert P.cpu_native_bf16(str(amx)) and P.cpu_native_bf16(str(avx512)) and P.cpu_native_bf16(str(arm))
    assert P.cpu_native_bf16(str(avx2)) is False and P.cpu_native_bf16(str(tmp_path / "absent")) is None


@pytest.mark.parametrize("native", [True, False, None])
def test_bf16_on_a_cpu_is_used_only_where_native(monkeypatch, native):
    """Before: bf16 asked for on an AVX2 CPU was emulated, 45 times slower than fp32. ``auto``
    stays fp32 on every CPU (the recipes that leave it were measured in fp32); where the flags
    cannot be read, bf16 is used as asked."""
    from i2i.messages import said_to

    monkeypatch.setattr(P, "cpu_native_bf16", lambda: native)
    lines: list[str] = []
    with said_to(lines.append):
        assert P.resolve_precision("bf16", torch.device("cpu")) == ("fp32" if native is False else "bf16")
        assert P.resolve_precision("auto", torch.device("cpu")) == "fp32"
    if native is False:  # flags read, no bf16 among them
        assert len(lines) == 1 and "no AMX-BF16, AVX512-BF16 or Arm BF16" in lines[0] and "training in fp32" in lines[0]
    else:  # native, or unknown (no /proc/cpuinfo): as asked, silently
        assert lines == []


def _ct_unet(residual: bool = False) -> nn.Module:
    from i2i_plugins.generators.unet import unet

    torch.manual_seed(0)
    return unet(1, 1, depth=4, ngf=8, norm="batch", dropout=0.0, activation="none", residual=residual).eval()


def test_unet_output_layer_runs_in_fp32_under_bf16_autocast():
    """Before: the last up-convolution ran in bf16 (the output on bf16's grid: 1-16 HU steps at
    the HU scale of a CT model)."""
    net, x = _ct_unet(), torch.rand(2, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        reference = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rounded = net(x)
            net.fp32_output = True
            kept = net(x)
    assert rounded.dtype == torch.bfloat16
    assert kept.dtype == torch.float32
    assert (kept != kept.bfloat16().float()).float().mean() > 0.9  # not on bf16's grid
    hu = 4095 / 2  # network units -> HU at the CT tasks' default hu_range
    assert ((kept - reference).abs().max() * hu) < ((rounded.float() - reference).abs().max() * hu)
    net.fp32_output = False
    with torch.no_grad():
        assert torch.equal(net(x), reference)  # off: the plain forward, bit for bit


@pytest.mark.parametrize("name", ["resnet_6blocks", "unet_timm"])
def test_other_generators_honour_fp32_output(name):
    from i2i.plugins import get_plugins

    options = {"ngf": 4} if name.startswith("resnet") else {"backbone": "resnet18", "decoder_channels": 16}
    net = get_plugins()["generators"].build(name, options, in_channels=1, out_channels=1).eval()
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    net.fp32_output = True
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert net(x).dtype == torch.float32


def test_fp32_output_is_set_for_hu_tasks_under_autocast_only():
    from i2i.messages import said_to
    from i2i.nn.protocols import fp32_output_layer
    from i2i.plugins import get_plugins

    tasks = get_plugins()["tasks"]
    ct, paired = tasks.build("ct_sparse_view", {}), tasks.build("paired", {})
    net = _ct_unet()
    assert fp32_output_layer(net, ct, "bf16") and net.fp32_output
    assert not fp32_output_layer(net, ct, "fp32") and not net.fp32_output  # fp32 runs: the plain forward
    assert not fp32_output_layer(net, paired, "bf16") and not net.fp32_output
    lines: list[str] = []
    with said_to(lines.append):
        assert not fp32_output_layer(nn.Conv2d(1, 1, 3), ct, "bf16")
    assert len(lines) == 1 and "Conv2d has no fp32_output switch" in lines[0] and "hu" in lines[0]


def test_a_bf16_ct_run_trains_with_its_output_layer_in_fp32(tmp_path, monkeypatch):
    from tests.conftest import CT_RECIPE, TINY_CT, train_in_process

    monkeypatch.setattr(P, "cpu_native_bf16", lambda: True)  # bf16 on any CPU that runs the tests
    sets = [s for s in TINY_CT if s != "--set"] + ["train.precision=\"bf16\"", "train.steps=1", "train.ema_decay=0.9"]
    trainer = train_in_process(CT_RECIPE, tmp_path / "run", *sets)
    assert trainer.generator.fp32_output and trainer.ema.module.fp32_output


class _Times(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def _tiny_d() -> nn.Module:
    """A discriminator whose backward pass carries values of about 1e-9 in fp16 (zero there)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 8, 3), nn.LeakyReLU(0.2), _Times(1e-8), nn.Conv2d(8, 1, 3))


def _penalty(scaler: torch.amp.GradScaler | None, dtype: torch.dtype | None) -> torch.Tensor:
    from i2i_plugins.losses.adversarial import WGANGP

    from i2i.losses import gradient_scaling

    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(2, 2, 16, 16, generator=g), torch.rand(2, 2, 16, 16, generator=g)
    torch.manual_seed(1)  # the penalty's mixing weights
    with torch.autocast("cpu", dtype=dtype or torch.float16, enabled=dtype is not None), gradient_scaling(scaler):
        return WGANGP(gp_weight=1.0, gp_constant=0.0).penalty(_tiny_d(), real, fake).float()


def test_wgangp_penalty_under_fp16_takes_its_gradient_through_the_grad_scaler():
    """Before: the penalty's gradient was taken on unscaled fp16 outputs: D's input gradient
    underflowed to zero (a penalty of 0 instead of 7.5e-16)."""
    reference = _penalty(None, None)
    assert reference > 0
    unscaled = _penalty(None, torch.float16)
    scaled = _penalty(torch.amp.GradScaler("cpu"), torch.float16)  # its default scale, 2**16
    assert abs(unscaled - reference) / reference > 0.5  # what the engine did before
    assert abs(scaled - reference) / reference < 1e-2


def test_input_gradients_without_a_scaler_is_plain_autograd():
    from i2i.losses import gradient_scaling, input_gradients

    x = torch.rand(3, 4, requires_grad=True)
    with gradient_scaling(torch.amp.GradScaler("cpu", enabled=False)):
        assert torch.equal(input_gradients([(x ** 2).sum(1)], x), 2 * x)

