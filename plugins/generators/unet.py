"""The pix2pix U-Net (pytorch-CycleGAN-and-pix2pix ``UnetGenerator``), generalised.

The module tree is the reference's (``model.model.N...``), so its state-dict keys match
and the reference's pretrained weights load; ``unet_256`` with batch norm at 3->3 channels
has exactly the reference's 54,413,955 parameters.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from i2i.nn import InitName, NormName, conv_bias, init_weights, norm_layer

Upsample = Literal["transposed", "resize_conv"]
Activation = Literal["tanh", "none", "sigmoid"]


def _up(in_ch: int, out_ch: int, bias: bool, mode: Upsample) -> nn.Module:
    if mode == "transposed":
        return nn.ConvTranspose2d(in_ch, out_ch, kernel_size=4, stride=2, padding=1, bias=bias)
    # nearest upsampling then a 3x3 conv: no checkerboard artifacts (Odena et al. 2016)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=bias))


def _activation(name: Activation) -> list[nn.Module]:
    return {"tanh": [nn.Tanh()], "sigmoid": [nn.Sigmoid()], "none": []}[name]


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: down, the inner levels, up, and the skip concatenation."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False, innermost: bool = False,
                 norm: NormName = "batch", dropout: float = 0.0, upsample: Upsample = "transposed",
                 activation: Activation = "tanh"):
        super().__init__()
        self.outermost = outermost
        bias = conv_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        downrelu = nn.LeakyReLU(0.2, True)
        uprelu = nn.ReLU(True)
        if outermost:
            up = _up(inner_nc * 2, outer_nc, True, upsample)
            layers = [downconv, submodule, uprelu, up, *_activation(activation)]
        elif innermost:
            up = _up(inner_nc, outer_nc, bias, upsample)
            layers = [downrelu, downconv, uprelu, up, norm_layer(norm, outer_nc)]
        else:
            up = _up(inner_nc * 2, outer_nc, bias, upsample)
            layers = [downrelu, downconv, norm_layer(norm, inner_nc), submodule,
                      uprelu, up, norm_layer(norm, outer_nc)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UNetGenerator(nn.Module):
    """U-Net with ``depth`` stride-2 downsamplings; input sides must divide by 2**depth
    (i2i pads any other size, see ``size_divisor``)."""

    def __init__(self, in_channels: int, out_channels: int, depth: int = 8, ngf: int = 64,
                 norm: NormName = "batch", dropout: float = 0.5, upsample: Upsample = "transposed",
                 activation: Activation = "tanh"):
        super().__init__()
        if depth < 5:
            raise ValueError(f"U-Net depth must be >= 5 (the reference's 4 outer levels plus the innermost), got {depth}")
        self.size_divisor = 2 ** depth
        common = {"norm": norm, "upsample": upsample}
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, **common)
        for _ in range(depth - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, dropout=dropout, **common)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, **common)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, **common)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, **common)
        self.model = UnetSkipConnectionBlock(out_channels, ngf, input_nc=in_channels, submodule=block,
                                             outermost=True, activation=activation, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def unet(in_channels: int, out_channels: int, depth: int = 8, ngf: int = 64, norm: NormName = "batch",
         dropout: float = 0.5, upsample: Upsample = "transposed", activation: Activation = "tanh",
         init: InitName = "normal", init_gain: float = 0.02) -> UNetGenerator:
    """U-Net generator: ``depth`` downsamplings (sides padded to a multiple of 2**depth),
    ``ngf`` base channels, dropout in the ``depth - 5`` innermost decoder blocks."""
    net = UNetGenerator(in_channels, out_channels, depth, ngf, norm, dropout, upsample, activation)
    return init_weights(net, init, init_gain)


def unet_256(in_channels: int, out_channels: int, ngf: int = 64, norm: NormName = "batch",
             dropout: float = 0.5, upsample: Upsample = "transposed", activation: Activation = "tanh",
             init: InitName = "normal", init_gain: float = 0.02) -> UNetGenerator:
    """The pix2pix U-Net for 256x256 images: 8 downsamplings (54,413,955 parameters at 3->3, batch norm)."""
    return unet(in_channels, out_channels, 8, ngf, norm, dropout, upsample, activation, init, init_gain)


def unet_128(in_channels: int, out_channels: int, ngf: int = 64, norm: NormName = "batch",
             dropout: float = 0.5, upsample: Upsample = "transposed", activation: Activation = "tanh",
             init: InitName = "normal", init_gain: float = 0.02) -> UNetGenerator:
    """The pix2pix U-Net for 128x128 images: 7 downsamplings (41,828,995 parameters at 3->3, batch norm)."""
    return unet(in_channels, out_channels, 7, ngf, norm, dropout, upsample, activation, init, init_gain)
