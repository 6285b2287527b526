"""Every built-in loss against a hand computation on small tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from i2i.plugins import get_plugins


def loss(name, **options):
    return get_plugins()["losses"].build(name, options)


def sp(x):  # softplus: -log(sigmoid(-x)) = BCE-with-logits against 0
    return torch.log1p(torch.exp(x))


REAL = [torch.tensor([[0.5, -1.0], [2.0, 0.0]]).view(1, 1, 2, 2), torch.tensor([1.5]).view(1, 1, 1, 1)]
FAKE = [torch.tensor([[-0.5, 1.0], [0.0, 3.0]]).view(1, 1, 2, 2), torch.tensor([-2.0]).view(1, 1, 1, 1)]


def scales(ts):
    return [[t] for t in ts]


def test_vanilla_matches_bce_by_hand_summed_over_scales():
    l = loss("vanilla")
    d = sum(0.5 * (sp(-r).mean() + sp(f).mean()) for r, f in zip(REAL, FAKE))
    g = sum(sp(-f).mean() for f in FAKE)
    assert torch.allclose(l.discriminator_loss(scales(REAL), scales(FAKE)), d)
    assert torch.allclose(l.generator_loss(scales(FAKE)), g)
    # a plain tensor output is one scale
    assert torch.allclose(l.generator_loss([[FAKE[0]]]), sp(-FAKE[0]).mean())


def test_lsgan_by_hand():
    l = loss("lsgan")
    d = sum(0.5 * (((r - 1) ** 2).mean() + (f ** 2).mean()) for r, f in zip(REAL, FAKE))
    g = sum(((f - 1) ** 2).mean() for f in FAKE)
    assert torch.allclose(l.discriminator_loss(scales(REAL), scales(FAKE)), d)
    assert torch.allclose(l.generator_loss(scales(FAKE)), g)


def test_hinge_by_hand():
    l = loss("hinge")
    r, f = REAL[0], FAKE[0]
    # relu(1 - [0.5, -1, 2, 0]) = [0.5, 2, 0, 1]; relu(1 + [-0.5, 1, 0, 3]) = [0.5, 2, 1, 4]
    assert l.discriminator_loss([[r]], [[f]]).item() == pytest.approx(3.5 / 4 + 7.5 / 4)
    assert l.generator_loss([[f]]).item() == pytest.approx(-3.5 / 4)


def test_wgangp_terms_and_penalty_on_a_linear_critic():
    l = loss("wgangp", gp_weight=10.0)
    r, f = REAL[0], FAKE[0]
    assert l.discriminator_loss([[r]], [[f]]).item() == pytest.approx(f.mean().item() - r.mean().item())
    assert l.generator_loss([[f]]).item() == pytest.approx(-f.mean().item())
    # D(x) = sum(w * x): its input gradient is w everywhere, so ||grad|| = ||w|| for every mix
    torch.manual_seed(0)
    w = torch.randn(1, 2, 3, 3)
    critic = lambda x: (x * w).flatten(1).sum(1, keepdim=True)
    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    expected = 10.0 * (w.norm() - 1.0) ** 2
    assert torch.allclose(l.penalty(critic, real, fake), expected, rtol=1e-5)


def test_l1_l2_by_hand():
    a = torch.tensor([0.0, 1.0, -1.0, 0.5]).view(1, 1, 2, 2)
    b = torch.tensor([1.0, 1.0, 1.0, 0.0]).view(1, 1, 2, 2)
    assert loss("l1")(a, b).item() == pytest.approx((1 + 0 + 2 + 0.5) / 4)
    assert loss("l2")(a, b).item() == pytest.approx((1 + 0 + 4 + 0.25) / 4)


def test_ssim_of_constant_images_is_the_luminance_term():
    # constant images: contrast/structure terms are C2/C2 = 1, so SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b, data_range = 0.5, -0.25, 2.0
    c1 = (0.01 * data_range) ** 2
    x, y = torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b)
    expected = 1 - (2 * a * b + c1) / (a * a + b * b + c1)
    assert loss("ssim")(x, y).item() == pytest.approx(expected, rel=1e-4)
    assert loss("ssim")(x, x).item() == pytest.approx(0.0, abs=1e-6)


def test_ssim_rejects_even_windows():
    with pytest.raises(ValueError, match="odd"):
        loss("ssim", window_size=10)


def test_feature_matching_uses_pix2pixhd_weights():
    torch.manual_seed(0)
    fake = [[torch.randn(1, 2, 4, 4), torch.randn(1, 3, 2, 2), torch.randn(1, 1, 2, 2)],
            [torch.randn(1, 2, 2, 2), torch.randn(1, 1, 1, 1)]]
    real = [[torch.randn_like(t) for t in scale] for scale in fake]
    # scale 0: 2 features (weight 4/2), scale 1: 1 feature (weight 4/1); each scale x 1/2; logits ignored
    expected = 0.5 * (2 * F.l1_loss(fake[0][0], real[0][0]) + 2 * F.l1_loss(fake[0][1], real[0][1])) \
        + 0.5 * 4 * F.l1_loss(fake[1][0], real[1][0])
    assert torch.allclose(loss("feature_matching")(fake, real), expected)
    with pytest.raises(ValueError, match="intermediate features"):
        loss("feature_matching")([[torch.zeros(1)]], [[torch.zeros(1)]])


def test_perceptual_needs_a_local_weights_file(tmp_path):
    with pytest.raises(ValueError, match="i2i never downloads"):
        loss("perceptual")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        loss("perceptual", weights=str(tmp_path / "missing.pth"))


def test_perceptual_matches_vgg_features_by_hand(tmp_path):
    from safetensors.torch import save_file
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    vgg = make_layers(cfgs["E"])
    path = tmp_path / "vgg19.safetensors"
    save_file({f"features.{k}": v.contiguous() for k, v in vgg.state_dict().items()}, str(path))
    l = loss("perceptual", weights=str(path))
    x, y = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def feats(img):
        h, out = ((img + 1) / 2 - mean) / std, []
        for i, layer in enumerate(vgg.eval()):
            h = layer(h)
            if i in (1, 6, 11, 20, 29):
                out.append(h)
        return out

    expected = sum(w * F.l1_loss(a, b) for w, a, b in zip([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0], feats(x), feats(y)))
    assert torch.allclose(l(x, y), expected, rtol=1e-5)
    # one channel is repeated to RGB
    gray = torch.rand(1, 1, 32, 32)
    assert torch.allclose(l(gray, gray), torch.zeros(()), atol=1e-7)
    assert math.isfinite(l(gray, x[:, :1]).item())


def test_clipped_l1_counts_errors_inside_its_window_only():
    from i2i.plugins import get_plugins

    loss = get_plugins()["losses"].build("clipped_l1", {"low": -0.5, "high": 0.0})
    target = torch.tensor([[[[-0.25, 0.5, -0.9]]]])
    output = torch.tensor([[[[-0.20, 0.9, -0.8]]]])
    # inside: |0.05| scaled by 2 / 0.5; above and below the window: clipped alike, no error
    assert float(loss(output, target)) == pytest.approx(0.05 * 4 / 3)
    with pytest.raises(ValueError, match="high must be > low"):
        get_plugins()["losses"].build("clipped_l1", {"low": 0.0, "high": 0.0})
