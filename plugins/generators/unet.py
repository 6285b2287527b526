"""The pix2pix U-Net (pytorch-CycleGAN-and-pix2pix ``UnetGenerator``), generalised.

The module tree is the reference's (``model.model.N...``), so its state-dict keys match
and the reference's pretrained weights load; ``unet_256`` with batch norm at 3->3 channels
has exactly the reference's 54,413,955 parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.nn import InitName, NormName, conv_bias, init_weights, norm_layer
from i2i.nn.checks import MAX_DOWNSAMPLINGS, check_dropout, check_int
from i2i.nn.layers import Activation, Upsample, in_fp32, output_activation, resize_conv


def _up(in_ch: int, out_ch: int, bias: bool, mode: Upsample) -> nn.Module:
    if mode == "transposed":
        return nn.ConvTranspose2d(in_ch, out_ch, kernel_size=4, stride=2, padding=1, bias=bias)
    return resize_conv(in_ch, out_ch, bias)


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: down, the inner levels, up, and the skip concatenation."""

    #: The outermost level only: run the output layer (the last up-convolution and the
    #: activation) in float32 with autocast off (:attr:`UNetGenerator.fp32_output`).
    fp32_output = False

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
            layers = [downconv, submodule, uprelu, up, *output_activation(activation)]
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
            if not self.fp32_output:
                return self.model(x)
            layers = list(self.model)  # down, inner levels, relu | up, activation
            for layer in layers[:3]:
                x = layer(x)
            return in_fp32(layers[3:], x)
        return torch.cat([x, self.model(x)], 1)


class UNetGenerator(nn.Module):
    """U-Net with ``depth`` stride-2 downsamplings; input sides must divide by 2**depth
    (i2i pads any other size, see ``size_divisor``).

    Level ``k`` (0 outermost) has ``ngf * min(2**k, 8)`` channels, which at ``depth >= 5``
    is exactly the reference's ``UnetGenerator(num_downs=depth)``; ``depth`` 2..4 keep the
    same pattern with fewer levels (for small images). Dropout sits in the decoder blocks
    of levels 4..depth-2 (the reference's ``depth - 5`` innermost non-bottleneck blocks).
    ``residual`` adds the input to the output (FBPConvNet's global skip: the network learns the
    correction), which needs as many input as output channels.
    """

    def __init__(self, in_channels: int, out_channels: int, depth: int = 8, ngf: int = 64,
                 norm: NormName = "batch", dropout: float = 0.5, upsample: Upsample = "transposed",
                 activation: Activation = "tanh", residual: bool = False):
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError(f"residual needs as many input as output channels, got {in_channels} -> {out_channels}")
        self.residual = residual
        check_int("depth", depth, 2, MAX_DOWNSAMPLINGS)
        check_int("ngf", ngf, 1)
        check_dropout(dropout)
        self.size_divisor = 2 ** depth
        common = {"norm": norm, "upsample": upsample}

        def channels(level: int) -> int:
            return ngf * min(2 ** level, 8)

        block = UnetSkipConnectionBlock(channels(depth - 2), channels(depth - 1), innermost=True, **common)
        for level in range(depth - 2, 0, -1):
            block = UnetSkipConnectionBlock(channels(level - 1), channels(level), submodule=block,
                                            dropout=dropout if level >= 4 else 0.0, **common)
        self.model = UnetSkipConnectionBlock(out_channels, ngf, input_nc=in_channels, submodule=block,
                                             outermost=True, activation=activation, **common)

    @property
    def fp32_output(self) -> bool:
        """Whether the output layer runs in float32 under autocast (set by i2i when the task's
        outputs are physical units such as HU, where bf16 rounds to 1-16 HU steps)."""
        return self.model.fp32_output

    @fp32_output.setter
    def fp32_output(self, on: bool) -> None:
        self.model.fp32_output = bool(on)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        return x + y if self.residual else y


def unet(in_channels: int, out_channels: int, depth: int = 8, ngf: int = 64, norm: NormName = "batch",
         dropout: float = 0.5, upsample: Upsample = "transposed", activation: Activation = "tanh",
         residual: bool = False, init: InitName = "normal", init_gain: float = 0.02) -> UNetGenerator:
    """U-Net generator: ``depth`` (>= 2) downsamplings (sides padded to a multiple of
    2**depth), ``ngf`` base channels, dropout in the ``depth - 5`` innermost decoder blocks,
    optionally ``residual`` (output = input + U-Net(input))."""
    net = UNetGenerator(in_channels, out_channels, depth, ngf, norm, dropout, upsample, activation, residual)
    return init_weights(net, init, init_gain)


def unet_256(in_channels: int, out_channels: int, ngf: int = 64, norm: NormName = "batch",
             dropout: float = 0.5, upsample: Upsample = "transposed", activation: Activation = "tanh",
             init: InitName = "normal", init_gain: float = 0.02) -> UNetGenerator:
    """The pix2pix U-Net for 256x256 images: 8 downsamplings (54,413,955 parameters at 3->3, batch norm)."""
    return unet(in_channels, out_channels, 8, ngf, norm, dropout, upsample, activation, init=init, init_gain=init_gain)


def unet_128(in_channels: int, out_channels: int, ngf: int = 64, norm: NormName = "batch",
             dropout: float = 0.5, upsample: Upsample = "transposed", activation: Activation = "tanh",
             init: InitName = "normal", init_gain: float = 0.02) -> UNetGenerator:
    """The pix2pix U-Net for 128x128 images: 7 downsamplings (41,828,995 parameters at 3->3, batch norm)."""
    return unet(in_channels, out_channels, 7, ngf, norm, dropout, upsample, activation, init=init, init_gain=init_gain)
