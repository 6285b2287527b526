"""The built-in networks: reference parity (parameter counts, state-dict keys, outputs),
receptive fields, any size, any channel count, and a smoke test of every registered one.

The ``Ref*`` classes below are independent transcriptions of the reference architectures
(pytorch-CycleGAN-and-pix2pix ``models/networks.py``; NVIDIA pix2pixHD
``models/networks.py``), layer by layer with the references' module names, written
without i2i code so that they can serve as an oracle.
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from i2i.assembly.components import LossTerm
from i2i.errors import RecipeError, UsageError
from i2i.losses import as_scales
from i2i.nn import forward_any_size
from i2i.plugins import load_plugins

PLUGINS = load_plugins()
GENERATORS = PLUGINS["generators"]
DISCRIMINATORS = PLUGINS["discriminators"]

#: Options that make any built-in network small; each component gets those it accepts.
SMALL = {"ngf": 4, "ndf": 4, "decoder_channels": 16, "backbone": "test_resnet"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks run fastest on one thread, above all on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_options(registry, name: str, **extra) -> dict:
    params = registry.get(name).parameters()
    return {**{k: v for k, v in SMALL.items() if k in params}, **extra}


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def on_meta(factory):
    with torch.device("meta"):
        return factory()


# ---- pytorch-CycleGAN-and-pix2pix, transcribed ---------------------------------------


def ref_norm(kind: str):
    if kind == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


def ref_bias(norm_layer) -> bool:
    return norm_layer.func == nn.InstanceNorm2d


class RefResnetBlock(nn.Module):
    def __init__(self, dim, padding_type, norm_layer, use_dropout, use_bias):
        super().__init__()
        seq = []
        for half in range(2):
            p = 0
            if padding_type == "reflect":
                seq.append(nn.ReflectionPad2d(1))
            elif padding_type == "replicate":
                seq.append(nn.ReplicationPad2d(1))
            else:
                p = 1
            seq += [nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=use_bias), norm_layer(dim)]
            if half == 0:
                seq.append(nn.ReLU(True))
                if use_dropout:
                    seq.append(nn.Dropout(0.5))
        self.conv_block = nn.Sequential(*seq)

    def forward(self, x):
        return x + self.conv_block(x)


class RefResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=False, n_blocks=6,
                 padding_type="reflect"):
        super().__init__()
        use_bias = ref_bias(norm_layer)
        seq = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
               norm_layer(ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2 ** i
            seq += [nn.Conv2d(ngf * m, ngf * m * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                    norm_layer(ngf * m * 2), nn.ReLU(True)]
        seq += [RefResnetBlock(ngf * 4, padding_type, norm_layer, use_dropout, use_bias) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            seq += [nn.ConvTranspose2d(ngf * m, int(ngf * m / 2), kernel_size=3, stride=2, padding=1,
                                       output_padding=1, bias=use_bias),
                    norm_layer(int(ngf * m / 2)), nn.ReLU(True)]
        seq += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class RefUnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        self.outermost = outermost
        use_bias = ref_bias(norm_layer)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            seq = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            seq = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, norm_layer(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            seq = [nn.LeakyReLU(0.2, True), downconv, norm_layer(inner_nc), submodule,
                   nn.ReLU(True), upconv, norm_layer(outer_nc)]
            if use_dropout:
                seq.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class RefUnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf=64, norm_layer=nn.BatchNorm2d, use_dropout=False):
        super().__init__()
        block = RefUnetSkipConnectionBlock(ngf * 8, ngf * 8, norm_layer=norm_layer, innermost=True)
        for _ in range(num_downs - 5):
            block = RefUnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm_layer=norm_layer,
                                               use_dropout=use_dropout)
        block = RefUnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm_layer=norm_layer)
        block = RefUnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm_layer=norm_layer)
        block = RefUnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm_layer=norm_layer)
        self.model = RefUnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                                norm_layer=norm_layer)

    def forward(self, x):
        return self.model(x)


class RefNLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, norm_layer=nn.BatchNorm2d):
        super().__init__()
        use_bias = ref_bias(norm_layer)
        seq = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=2, padding=1, bias=use_bias),
                    norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=1, padding=1, bias=use_bias),
                norm_layer(ndf * mult), nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class RefPixelDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, norm_layer=nn.BatchNorm2d):
        super().__init__()
        use_bias = ref_bias(norm_layer)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1, stride=1, padding=0), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=use_bias), norm_layer(ndf * 2),
            nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=use_bias))

    def forward(self, x):
        return self.net(x)


# ---- pix2pixHD, transcribed (norm_layer: batch, or instance without affine) ----------------


class RefHDResnetBlock(nn.Module):
    def __init__(self, dim, norm_layer):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0), norm_layer(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0), norm_layer(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class RefGlobalGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, n_downsampling=3, n_blocks=9, norm_layer=nn.BatchNorm2d):
        super().__init__()
        act = nn.ReLU(True)
        seq = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0), norm_layer(ngf), act]
        for i in range(n_downsampling):
            m = 2 ** i
            seq += [nn.Conv2d(ngf * m, ngf * m * 2, kernel_size=3, stride=2, padding=1), norm_layer(ngf * m * 2), act]
        seq += [RefHDResnetBlock(ngf * 2 ** n_downsampling, norm_layer) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            m = 2 ** (n_downsampling - i)
            seq += [nn.ConvTranspose2d(ngf * m, int(ngf * m / 2), kernel_size=3, stride=2, padding=1,
                                       output_padding=1), norm_layer(int(ngf * m / 2)), act]
        seq += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class RefHDNLayerDiscriminator(nn.Module):
    """getIntermFeat=True: blocks ``model0`` .. ``model{n_layers+1}``."""

    def __init__(self, input_nc, ndf=64, n_layers=3, norm_layer=nn.BatchNorm2d):
        super().__init__()
        self.n_layers = n_layers
        blocks = [[nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=2), nn.LeakyReLU(0.2, True)]]
        nf = ndf
        for _ in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            blocks.append([nn.Conv2d(prev, nf, kernel_size=4, stride=2, padding=2), norm_layer(nf),
                           nn.LeakyReLU(0.2, True)])
        prev, nf = nf, min(nf * 2, 512)
        blocks.append([nn.Conv2d(prev, nf, kernel_size=4, stride=1, padding=2), norm_layer(nf),
                       nn.LeakyReLU(0.2, True)])
        blocks.append([nn.Conv2d(nf, 1, kernel_size=4, stride=1, padding=2)])
        for n, block in enumerate(blocks):
            setattr(self, f"model{n}", nn.Sequential(*block))


class RefMultiscaleDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, norm_layer=nn.BatchNorm2d, num_D=3):
        super().__init__()
        self.num_D, self.n_layers = num_D, n_layers
        for i in range(num_D):
            single = RefHDNLayerDiscriminator(input_nc, ndf, n_layers, norm_layer)
            for j in range(n_layers + 2):
                setattr(self, f"scale{i}_layer{j}", getattr(single, f"model{j}"))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x):
        result = []
        for i in range(self.num_D):
            layers = [getattr(self, f"scale{self.num_D - 1 - i}_layer{j}") for j in range(self.n_layers + 2)]
            feats = [x]
            for layer in layers:
                feats.append(layer(feats[-1]))
            result.append(feats[1:])
            if i != self.num_D - 1:
                x = self.downsample(x)
        return result


def hd_norm(kind: str):
    return functools.partial(nn.BatchNorm2d, affine=True) if kind == "batch" else \
        functools.partial(nn.InstanceNorm2d, affine=False)


# ---- parameter counts at the references' defaults --------------------------------------------


@pytest.mark.parametrize(("kind", "name", "options", "expected"), [
    ("generators", "unet_256", {"norm": "batch"}, 54_413_955),
    ("generators", "unet_128", {"norm": "batch"}, 41_828_995),
    ("generators", "resnet_9blocks", {"norm": "instance"}, 11_378_179),
    ("generators", "resnet_6blocks", {"norm": "instance"}, 7_837_699),
    ("discriminators", "patchgan", {"n_layers": 3, "norm": "batch"}, 2_768_705),
    ("discriminators", "patchgan", {"n_layers": 3, "norm": "instance"}, 2_767_809),
])
def test_reference_parameter_counts(kind, name, options, expected):
    channels = {"in_channels": 3, "out_channels": 3} if kind == "generators" else {"in_channels": 6}
    net = on_meta(lambda: PLUGINS[kind].build(name, options, **channels))
    assert count(net) == expected


def test_resnet_defaults_are_pix2pix_train_defaults():
    # pix2pix's train.py: --norm batch for the pix2pix model, dropout unless --no_dropout
    defaults = GENERATORS.get("resnet_9blocks").defaults()
    assert defaults["norm"] == "batch" and defaults["dropout"] == 0.5
    ref = on_meta(lambda: RefResnetGenerator(3, 3, 64, ref_norm("batch"), use_dropout=True, n_blocks=9))
    ours = on_meta(lambda: GENERATORS.build("resnet_9blocks", {}, in_channels=3, out_channels=3))
    assert count(ours) == count(ref) == 11_383_427


@pytest.mark.parametrize(("options", "ref_args"), [
    ({}, {"n_downsampling": 4}),  # pix2pixHD's train.py default (--n_downsample_global 4)
    ({"downsamplings": 3}, {"n_downsampling": 3}),  # GlobalGenerator's own default
    ({"norm": "batch", "blocks": 6}, {"n_downsampling": 4, "n_blocks": 6, "norm_layer": hd_norm("batch")}),
])
def test_global_parameter_count_and_keys_match_pix2pixhd(options, ref_args):
    ref_args = {"norm_layer": hd_norm("instance"), **ref_args}
    ref = on_meta(lambda: RefGlobalGenerator(3, 3, 64, **ref_args))
    ours = on_meta(lambda: GENERATORS.build("global", options, in_channels=3, out_channels=3))
    assert count(ours) == count(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert ours.size_divisor == 2 ** ref_args["n_downsampling"]


@pytest.mark.parametrize("num_d", [1, 2, 3])
def test_multiscale_parameter_count_and_keys_match_pix2pixhd(num_d):
    ref = on_meta(lambda: RefMultiscaleDiscriminator(6, 64, 3, hd_norm("instance"), num_D=num_d))
    ours = on_meta(lambda: DISCRIMINATORS.build("multiscale", {"num_D": num_d}, in_channels=6))
    assert count(ours) == count(ref) == num_d * 2_767_809
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert ours.num_scales == num_d


@pytest.mark.parametrize(("name", "options", "ref"), [
    ("unet_256", {}, lambda: RefUnetGenerator(3, 3, 8, 64, ref_norm("batch"), use_dropout=True)),
    ("unet_128", {"norm": "instance"}, lambda: RefUnetGenerator(3, 3, 7, 64, ref_norm("instance"), use_dropout=True)),
    ("resnet_9blocks", {"norm": "instance", "dropout": 0.0},
     lambda: RefResnetGenerator(3, 3, 64, ref_norm("instance"), use_dropout=False, n_blocks=9)),
    ("resnet_6blocks", {"padding": "zeros"},
     lambda: RefResnetGenerator(3, 3, 64, ref_norm("batch"), use_dropout=True, n_blocks=6, padding_type="zero")),
])
def test_generator_state_dict_keys_match_pix2pix(name, options, ref):
    ours = on_meta(lambda: GENERATORS.build(name, options, in_channels=3, out_channels=3))
    reference = on_meta(ref)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    assert list(ours.state_dict()) == list(reference.state_dict())


@pytest.mark.parametrize(("options", "ref"), [
    ({"n_layers": 3}, lambda: RefNLayerDiscriminator(6, 64, 3, ref_norm("batch"))),
    ({"n_layers": 5, "norm": "instance"}, lambda: RefNLayerDiscriminator(6, 64, 5, ref_norm("instance"))),
    ({"n_layers": 0}, lambda: RefPixelDiscriminator(6, 64, ref_norm("batch"))),
])
def test_patchgan_state_dict_keys_match_pix2pix(options, ref):
    ours = on_meta(lambda: DISCRIMINATORS.build("patchgan", options, in_channels=6))
    reference = on_meta(ref)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}


# ---- identical outputs with the same weights ----------------------------------------------


def assert_same_outputs(ours: nn.Module, reference: nn.Module, x: torch.Tensor) -> None:
    reference.load_state_dict(ours.state_dict(), strict=True)
    ours.eval(), reference.eval()
    with torch.no_grad():
        got, want = ours(x), reference(x)
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_resnet_9blocks_outputs_equal_reference():
    torch.manual_seed(0)
    ours = GENERATORS.build("resnet_9blocks", {"ngf": 8, "norm": "instance"}, in_channels=3, out_channels=3)
    assert_same_outputs(ours, RefResnetGenerator(3, 3, 8, ref_norm("instance"), True, 9), torch.randn(1, 3, 32, 48))


def test_unet_256_and_patchgan_outputs_equal_reference():
    torch.manual_seed(0)
    ours = GENERATORS.build("unet_256", {"ngf": 2}, in_channels=3, out_channels=2)
    assert_same_outputs(ours, RefUnetGenerator(3, 2, 8, 2, ref_norm("batch"), True), torch.randn(1, 3, 256, 256))
    d = DISCRIMINATORS.build("patchgan", {"ndf": 4, "n_layers": 3}, in_channels=5)
    ref = RefNLayerDiscriminator(5, 4, 3, ref_norm("batch"))
    x = torch.randn(1, 5, 40, 56)
    ref.load_state_dict(d.state_dict())
    d.eval(), ref.eval()
    with torch.no_grad():
        torch.testing.assert_close(d(x)[0][-1], ref(x), rtol=0, atol=0)


def test_global_outputs_equal_pix2pixhd():
    torch.manual_seed(0)
    ours = GENERATORS.build("global", {"ngf": 4, "downsamplings": 3, "blocks": 3}, in_channels=2, out_channels=3)
    ref = RefGlobalGenerator(2, 3, 4, 3, 3, hd_norm("instance"))
    assert_same_outputs(ours, ref, torch.randn(1, 2, 40, 56))


def test_multiscale_outputs_and_features_equal_pix2pixhd():
    torch.manual_seed(0)
    ours = DISCRIMINATORS.build("multiscale", {"num_D": 3, "ndf": 4}, in_channels=4)
    ref = RefMultiscaleDiscriminator(4, 4, 3, hd_norm("instance"), num_D=3)
    ref.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 4, 64, 72)
    with torch.no_grad():
        got, want = ours(x), ref(x)
    assert len(got) == 3 and [len(s) for s in got] == [5, 5, 5]  # n_layers + 2 features per scale
    for g_scale, w_scale in zip(got, want):
        for g, w in zip(g_scale, w_scale, strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=0)
    assert got[0][-1].shape[1] == 1 and got[0][-1].shape[-1] > got[1][-1].shape[-1] > got[2][-1].shape[-1]


# ---- receptive fields -----------------------------------------------------------------------


def measured_receptive_field(net: nn.Module, size: int) -> int:
    """Width of the input region that the centre logit of the coarsest scale depends on."""
    for m in net.modules():  # positive weights: no cancellation hides a dependency
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 0.01)
    x = torch.randn(1, net_in_channels(net), size, size, requires_grad=True)
    logits = as_scales(net(x))[-1][-1]
    h, w = logits.shape[-2:]
    logits[0, 0, h // 2, w // 2].backward()
    cols = x.grad.abs().sum(dim=(0, 1, 2)).nonzero()
    return int(cols.max() - cols.min() + 1)


def net_in_channels(net: nn.Module) -> int:
    return next(m for m in net.modules() if isinstance(m, nn.Conv2d)).in_channels


@pytest.mark.parametrize(("n_layers", "expected"), [(0, 1), (1, 16), (2, 34), (3, 70), (5, 286)])
def test_patchgan_receptive_field(n_layers, expected):
    net = on_meta(lambda: DISCRIMINATORS.build("patchgan", {"n_layers": n_layers}, in_channels=6))
    assert net.receptive_field == expected


@pytest.mark.parametrize(("name", "options", "size"), [
    ("patchgan", {"n_layers": 1, "ndf": 2, "norm": "none"}, 40),
    ("patchgan", {"n_layers": 3, "ndf": 2, "norm": "none"}, 96),
    ("multiscale", {"num_D": 2, "n_layers": 1, "ndf": 2, "norm": "none"}, 80),
])
def test_receptive_field_is_exact(name, options, size):
    net = DISCRIMINATORS.build(name, options, in_channels=2)
    assert measured_receptive_field(net, size) == net.receptive_field


def test_multiscale_receptive_field_is_the_coarsest_scale_at_full_resolution():
    fields = [on_meta(lambda: DISCRIMINATORS.build("multiscale", {"num_D": k}, in_channels=6)).receptive_field
              for k in (1, 2, 3)]
    assert fields == [70, 141, 283]


# ---- every registered component: forward and backward, any size, any channel count ----------


def assert_finite_gradients(net: nn.Module) -> None:
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads, "no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("channels", [(1, 1), (3, 3), (1, 3)], ids=["1to1", "3to3", "1to3"])
@pytest.mark.parametrize("name", GENERATORS.names())
def test_every_generator_runs_at_an_odd_size(name, channels):
    torch.manual_seed(0)
    cin, cout = channels
    net = GENERATORS.build(name, small_options(GENERATORS, name), in_channels=cin, out_channels=cout)
    assert isinstance(getattr(net, "size_divisor", 1), int)
    x = torch.randn(1, cin, 72, 104)
    y = forward_any_size(net, x)
    assert y.shape == (1, cout, 72, 104)
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    assert_finite_gradients(net)


@pytest.mark.parametrize("channels", [2, 6])
@pytest.mark.parametrize("name", DISCRIMINATORS.names())
def test_every_discriminator_runs_at_an_odd_size(name, channels):
    torch.manual_seed(0)
    net = DISCRIMINATORS.build(name, small_options(DISCRIMINATORS, name), in_channels=channels)
    assert isinstance(net.receptive_field, int) and net.receptive_field >= 1
    scales = as_scales(net(torch.randn(1, channels, 72, 104)))
    assert scales and all(scale for scale in scales)
    assert all(torch.isfinite(f).all() for scale in scales for f in scale)
    sum(scale[-1].mean() for scale in scales).backward()
    assert_finite_gradients(net)


@pytest.mark.parametrize("kind", ["generators", "discriminators"])
def test_every_network_builds_on_the_meta_device_for_summary(kind):
    registry = PLUGINS[kind]
    for name in registry.names():
        channels = {"in_channels": 1, "out_channels": 3} if kind == "generators" else {"in_channels": 4}
        options = small_options(registry, name)
        try:
            meta = on_meta(lambda: registry.build(name, options, **channels))
        except NotImplementedError:  # allowed: i2i summary falls back to a real build
            continue
        assert count(meta) == count(registry.build(name, options, **channels)), name


@pytest.mark.parametrize("init", ["normal", "xavier", "kaiming", "orthogonal"])
def test_every_builtin_exposes_init_options(init):
    for registry in (GENERATORS, DISCRIMINATORS):
        for component in registry:
            if component.plugin.startswith("i2i."):
                params = component.parameters()
                assert {"init", "init_gain"} <= set(params), component.name
    torch.manual_seed(0)  # torch's default init has std ~0.1 here and non-zero biases
    net = DISCRIMINATORS.build("patchgan", {"ndf": 4, "init": init, "init_gain": 1e-3, "spectral_norm": True},
                               in_channels=2)
    first = net.model[0]  # init reaches the weight under spectral norm
    std = first.weight_orig.std()
    assert (std > 0.2 if init == "kaiming" else std < 0.01) and first.bias.abs().sum() == 0


def test_large_and_odd_sizes_come_back_the_same_size():
    net = GENERATORS.build("resnet", {"ngf": 2, "blocks": 1}, in_channels=1, out_channels=1)
    for h, w in [(300, 500), (1200, 600)]:
        with torch.no_grad():
            assert forward_any_size(net, torch.randn(1, 1, h, w)).shape == (1, 1, h, w)
    unet = GENERATORS.build("unet_256", {"ngf": 1}, in_channels=1, out_channels=1)
    with torch.no_grad():  # a 3x5 image in a network that needs multiples of 256: repeated reflection
        assert forward_any_size(unet.eval(), torch.randn(1, 1, 3, 5)).shape == (1, 1, 3, 5)


def test_pad_mode_none_names_the_nearest_valid_size():
    net = GENERATORS.build("unet", {"depth": 5, "ngf": 2}, in_channels=1, out_channels=1)
    assert net.size_divisor == 32
    with pytest.raises(UsageError, match=r"input size 300x500 is not a multiple of 32; nearest valid size: 288x512"):
        forward_any_size(net, torch.randn(1, 1, 300, 500), mode="none")


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_shallow_unet(depth):
    net = GENERATORS.build("unet", {"depth": depth, "ngf": 4, "upsample": "resize_conv", "activation": "sigmoid",
                                    "norm": "group"}, in_channels=2, out_channels=5)
    y = forward_any_size(net, torch.randn(1, 2, 20, 30))
    assert y.shape == (1, 5, 20, 30) and y.min() >= 0 and y.max() <= 1


def test_unet_depth_below_two_is_rejected_clearly():
    with pytest.raises(ValueError, match=r"depth must be 2\.\.16, got 1"):
        GENERATORS.build("unet", {"depth": 1}, in_channels=1, out_channels=1)


# ---- recipes and the training step ----------------------------------------------------------


def test_options_a_network_does_not_accept_are_rejected_listing_the_accepted_ones():
    from i2i.recipe import load_recipe

    with pytest.raises(RecipeError) as err:
        load_recipe("recipes/facades.toml", ['generator.name="resnet_9blocks"', "generator.depth=3"])
    message = str(err.value)
    assert "generator.depth: generator 'resnet_9blocks' has no option 'depth'" in message
    for option in ("'ngf'", "'norm'", "'padding'", "'dropout'", "'init'", "'init_gain'"):
        assert option in message


def test_multiscale_feature_matching_and_resnet_train_one_gan_step():
    from i2i.engine.gan_step import DiscriminatorObjective, GANStep
    from i2i.engine.precision import Precision

    torch.manual_seed(0)
    g = GENERATORS.build("resnet", {"ngf": 4, "blocks": 2}, in_channels=3, out_channels=3)
    d = DISCRIMINATORS.build("multiscale", {"ndf": 4, "num_D": 3}, in_channels=6)
    losses = PLUGINS["losses"]
    terms = [LossTerm("gan", 1.0, losses.build("lsgan", {})), LossTerm("l1", 100.0, losses.build("l1", {})),
             LossTerm("feat", 10.0, losses.build("feature_matching", {}))]
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    before = [p.detach().clone() for p in d.parameters()]
    step = GANStep(g, DiscriminatorObjective(d, terms[0]), opt_g, opt_d, terms, Precision("fp32", torch.device("cpu")))
    logs = step([(torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1)])
    assert {"loss_d", "loss_g", "loss_g_feat"} <= set(logs)
    assert all(torch.isfinite(v) for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, d.parameters()))
