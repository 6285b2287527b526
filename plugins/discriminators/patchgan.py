"""PatchGAN discriminators (pytorch-CycleGAN-and-pix2pix ``NLayerDiscriminator`` and
``PixelDiscriminator``), with the reference module tree and parameter counts.

Every i2i discriminator returns pix2pixHD's layout: a list with one entry per scale, each
a list of intermediate feature maps ending with the logits, so adversarial and
feature-matching losses can use any of them.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.nn import InitName, NormName, conv_bias, init_weights, norm_layer, receptive_field
from i2i.nn.checks import check_int


class NLayerDiscriminator(nn.Module):
    """PatchGAN with ``n_layers`` stride-2 convolutions (receptive field 16/34/70/142/286
    for n_layers 1..5); ``n_layers = 0`` is the 1x1 ``pixel`` discriminator."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: NormName = "batch",
                 spectral_norm: bool = False):
        super().__init__()
        bias = conv_bias(norm)
        sn = nn.utils.spectral_norm if spectral_norm else (lambda m: m)
        if n_layers == 0:
            layers = [sn(nn.Conv2d(in_channels, ndf, 1, 1, 0)), nn.LeakyReLU(0.2, True),
                      sn(nn.Conv2d(ndf, ndf * 2, 1, 1, 0, bias=bias)), norm_layer(norm, ndf * 2),
                      nn.LeakyReLU(0.2, True), sn(nn.Conv2d(ndf * 2, 1, 1, 1, 0, bias=bias))]
            self.net = nn.Sequential(*layers)
        else:
            layers = [sn(nn.Conv2d(in_channels, ndf, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            mult = 1
            for n in range(1, n_layers + 1):
                prev, mult = mult, min(2 ** n, 8)
                stride = 2 if n < n_layers else 1
                layers += [sn(nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias)),
                           norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
            layers.append(sn(nn.Conv2d(ndf * mult, 1, 4, 1, 1)))
            self.model = nn.Sequential(*layers)
        self.receptive_field = receptive_field(self.layers)

    @property
    def layers(self) -> nn.Sequential:
        return self.net if hasattr(self, "net") else self.model

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations after each LeakyReLU, then the logits."""
        feats = []
        for layer in self.layers:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(x)
        feats.append(x)
        return feats

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        return [self.features(x)]


def patchgan(in_channels: int, ndf: int = 64, n_layers: int = 3, norm: NormName = "batch",
             spectral_norm: bool = False, init: InitName = "normal", init_gain: float = 0.02) -> NLayerDiscriminator:
    """PatchGAN: ``n_layers`` 3 is the 70x70 pix2pix discriminator, 0 the 1x1 pixel one,
    1 is 16x16 and 5 is 286x286."""
    check_int("n_layers", n_layers, 0, 8)
    check_int("ndf", ndf, 1)
    return init_weights(NLayerDiscriminator(in_channels, ndf, n_layers, norm, spectral_norm), init, init_gain)


def pixel(in_channels: int, ndf: int = 64, norm: NormName = "batch", spectral_norm: bool = False,
          init: InitName = "normal", init_gain: float = 0.02) -> NLayerDiscriminator:
    """The 1x1 PixelGAN discriminator (``patchgan`` with n_layers 0)."""
    return patchgan(in_channels, ndf, 0, norm, spectral_norm, init, init_gain)
