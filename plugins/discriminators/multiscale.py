"""pix2pixHD's multi-scale discriminator (``MultiscaleDiscriminator`` with ``getIntermFeat``).

``num_D`` PatchGANs see the input at full resolution, 1/2, 1/4, ... (each level an
``AvgPool2d(3, stride=2, padding=1, count_include_pad=False)`` of the previous one). The
output is one entry per scale, finest first, each the list of every block's output ending
with that scale's logits, which is what pix2pixHD's feature-matching loss uses.

The module tree is pix2pixHD's (``scale{i}_layer{j}``, with ``scale{num_D-1}`` the
full-resolution one), so its state-dict keys match and its weights load. Each scale is
pix2pixHD's ``NLayerDiscriminator``, which differs from pix2pix's ``patchgan``: 4x4
convolutions padded by 2, every convolution biased, and channels capped at 512 (not
``ndf * 8``).

``receptive_field`` is that of the coarsest scale measured at full resolution: the
poolings in front of it included (70 per scale at ``n_layers`` 3 becomes 141 with
``num_D`` 2 and 283 with ``num_D`` 3), the largest context any scale judges.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.nn import InitName, NormName, init_weights, norm_layer, receptive_field
from i2i.nn.checks import check_int


def nlayer_blocks(in_channels: int, ndf: int, n_layers: int, norm: NormName, spectral_norm: bool) -> list[nn.Sequential]:
    """pix2pixHD's ``NLayerDiscriminator`` as its ``n_layers + 2`` blocks (``model0``...)."""
    sn = nn.utils.spectral_norm if spectral_norm else (lambda m: m)

    def conv(cin: int, cout: int, stride: int) -> nn.Module:
        return sn(nn.Conv2d(cin, cout, kernel_size=4, stride=stride, padding=2))

    blocks = [nn.Sequential(conv(in_channels, ndf, 2), nn.LeakyReLU(0.2, True))]
    nf = ndf
    for n in range(1, n_layers + 1):
        prev, nf = nf, min(nf * 2, 512)
        stride = 2 if n < n_layers else 1
        blocks.append(nn.Sequential(conv(prev, nf, stride), norm_layer(norm, nf), nn.LeakyReLU(0.2, True)))
    blocks.append(nn.Sequential(conv(nf, 1, 1)))
    return blocks


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` pix2pixHD PatchGANs on progressively downsampled input (see the module doc)."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: NormName = "instance",
                 num_D: int = 2, spectral_norm: bool = False):
        super().__init__()
        check_int("num_D", num_D, 1)
        check_int("n_layers", n_layers, 1)
        check_int("ndf", ndf, 1)
        self.num_scales = num_D
        self.n_layers = n_layers
        for i in range(num_D):
            for j, block in enumerate(nlayer_blocks(in_channels, ndf, n_layers, norm, spectral_norm)):
                setattr(self, f"scale{i}_layer{j}", block)
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        convs = [layer for block in self.scale_blocks(0) for layer in block]
        self.receptive_field = receptive_field([self.downsample] * (num_D - 1) + convs)

    def scale_blocks(self, index: int) -> list[nn.Module]:
        """The blocks of scale ``index`` (``num_D - 1`` sees the full resolution)."""
        return [getattr(self, f"scale{index}_layer{j}") for j in range(self.n_layers + 2)]

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        scales = []
        for i in range(self.num_scales):
            features, h = [], x
            for block in self.scale_blocks(self.num_scales - 1 - i):
                h = block(h)
                features.append(h)
            scales.append(features)
            if i != self.num_scales - 1:
                x = self.downsample(x)
        return scales


def multiscale(in_channels: int, num_D: int = 2, ndf: int = 64, n_layers: int = 3, norm: NormName = "instance",
               spectral_norm: bool = False, init: InitName = "normal",
               init_gain: float = 0.02) -> MultiscaleDiscriminator:
    """pix2pixHD multi-scale discriminator: ``num_D`` PatchGANs at full, 1/2, 1/4... resolution,
    returning every scale's features (defaults are pix2pixHD's: 2 scales, 3 layers, instance norm)."""
    net = MultiscaleDiscriminator(in_channels, ndf, n_layers, norm, num_D, spectral_norm)
    return init_weights(net, init, init_gain)
