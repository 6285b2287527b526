"""ResNet generators: pytorch-CycleGAN-and-pix2pix ``ResnetGenerator`` (``resnet_6blocks``,
``resnet_9blocks``, the general ``resnet``) and pix2pixHD's ``GlobalGenerator`` (``global``).

Both references build the same module tree (``model.N``, residual blocks as
``model.N.conv_block.M``), so state-dict keys match them and their weights load:
``resnet_9blocks`` at 3->3 channels with instance norm has the reference's 11,378,179
parameters, ``resnet_6blocks`` 7,837,699. The two differ only in convolution biases
(pix2pix: only before instance norm; pix2pixHD: always) and in the number of
downsamplings (2 and 4 by default).

Defaults follow pix2pix's ``train.py`` (this is a pix2pix toolkit): its ``--norm`` is
``batch`` for the pix2pix model and dropout is on unless ``--no_dropout``; CycleGAN's
defaults are instance norm and no dropout (``norm = "instance"``, ``dropout = 0``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from i2i.nn import InitName, NormName, conv_bias, init_weights, norm_layer
from i2i.nn.checks import MAX_DOWNSAMPLINGS, check_dropout, check_int
from i2i.nn.layers import Activation, Upsample, in_fp32, output_activation, resize_conv

Padding = Literal["reflect", "replicate", "zeros"]


class ResnetBlock(nn.Module):
    """``x + conv-norm-ReLU-[dropout]-conv-norm(x)`` with 3x3 convolutions and ``padding``."""

    def __init__(self, dim: int, padding: Padding, norm: NormName, dropout: float, bias: bool):
        super().__init__()
        layers: list[nn.Module] = []
        for second in (False, True):
            pad = _padding_layer(padding)
            layers += [pad] if pad is not None else []
            layers += [nn.Conv2d(dim, dim, kernel_size=3, padding=0 if pad is not None else 1, bias=bias),
                       norm_layer(norm, dim)]
            if not second:
                layers.append(nn.ReLU(True))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def _padding_layer(padding: Padding) -> nn.Module | None:
    if padding == "reflect":
        return nn.ReflectionPad2d(1)
    if padding == "replicate":
        return nn.ReplicationPad2d(1)
    if padding == "zeros":
        return None  # the convolution pads
    raise ValueError(f"unknown padding {padding!r}; accepted: 'reflect', 'replicate', 'zeros'")


class ResnetGenerator(nn.Module):
    """7x7 stem, ``downsamplings`` stride-2 convolutions, ``blocks`` residual blocks at
    ``ngf * 2**downsamplings`` channels, as many upsamplings, 7x7 output convolution.

    ``bias=None`` gives convolutions a bias as pix2pix does (see ``conv_bias``); ``True``
    biases every convolution, as pix2pixHD does. ``padding`` is the residual blocks'
    padding (the stem and the output convolution always reflect-pad, as both references do).
    """

    def __init__(self, in_channels: int, out_channels: int, ngf: int = 64, blocks: int = 9,
                 downsamplings: int = 2, norm: NormName = "batch", padding: Padding = "reflect",
                 dropout: float = 0.0, upsample: Upsample = "transposed", activation: Activation = "tanh",
                 bias: bool | None = None):
        super().__init__()
        check_int("ngf", ngf, 1)
        check_int("blocks", blocks, 0)
        check_int("downsamplings", downsamplings, 0, MAX_DOWNSAMPLINGS)
        check_dropout(dropout)
        _padding_layer(padding)  # reject an unknown padding before building anything
        bias = conv_bias(norm) if bias is None else bias
        self.size_divisor = 2 ** downsamplings
        layers: list[nn.Module] = [nn.ReflectionPad2d(3),
                                   nn.Conv2d(in_channels, ngf, kernel_size=7, padding=0, bias=bias),
                                   norm_layer(norm, ngf), nn.ReLU(True)]
        for i in range(downsamplings):
            ch = ngf * 2 ** i
            layers += [nn.Conv2d(ch, ch * 2, kernel_size=3, stride=2, padding=1, bias=bias),
                       norm_layer(norm, ch * 2), nn.ReLU(True)]
        width = ngf * 2 ** downsamplings
        layers += [ResnetBlock(width, padding, norm, dropout, bias) for _ in range(blocks)]
        for i in range(downsamplings):
            ch = ngf * 2 ** (downsamplings - i)
            if upsample == "transposed":
                up = nn.ConvTranspose2d(ch, ch // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=bias)
            else:
                up = resize_conv(ch, ch // 2, bias)
            layers += [up, norm_layer(norm, ch // 2), nn.ReLU(True)]
        head = [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, kernel_size=7, padding=0),
                *output_activation(activation)]
        self.model = nn.Sequential(*layers, *head)
        self.head_layers = len(head)
        #: Whether the output layer (the 7x7 convolution and activation) runs in float32
        #: under autocast (set by i2i when the task's outputs are physical units such as HU).
        self.fp32_output = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fp32_output:
            return self.model(x)
        layers = list(self.model)
        for layer in layers[:-self.head_layers]:
            x = layer(x)
        return in_fp32(layers[-self.head_layers:], x)


def resnet(in_channels: int, out_channels: int, blocks: int = 9, ngf: int = 64, downsamplings: int = 2,
           norm: NormName = "batch", padding: Padding = "reflect", dropout: float = 0.5,
           upsample: Upsample = "transposed", activation: Activation = "tanh",
           init: InitName = "normal", init_gain: float = 0.02) -> ResnetGenerator:
    """ResNet generator (pix2pix/CycleGAN ``ResnetGenerator``): ``blocks`` residual blocks
    between ``downsamplings`` stride-2 downsamplings and as many upsamplings."""
    net = ResnetGenerator(in_channels, out_channels, ngf, blocks, downsamplings, norm, padding, dropout,
                          upsample, activation)
    return init_weights(net, init, init_gain)


def resnet_9blocks(in_channels: int, out_channels: int, ngf: int = 64, norm: NormName = "batch",
                   padding: Padding = "reflect", dropout: float = 0.5, upsample: Upsample = "transposed",
                   activation: Activation = "tanh", init: InitName = "normal",
                   init_gain: float = 0.02) -> ResnetGenerator:
    """The reference ResNet generator with 9 blocks (11,378,179 parameters at 3->3, instance norm)."""
    return resnet(in_channels, out_channels, 9, ngf, 2, norm, padding, dropout, upsample, activation,
                  init, init_gain)


def resnet_6blocks(in_channels: int, out_channels: int, ngf: int = 64, norm: NormName = "batch",
                   padding: Padding = "reflect", dropout: float = 0.5, upsample: Upsample = "transposed",
                   activation: Activation = "tanh", init: InitName = "normal",
                   init_gain: float = 0.02) -> ResnetGenerator:
    """The reference ResNet generator with 6 blocks (7,837,699 parameters at 3->3, instance norm)."""
    return resnet(in_channels, out_channels, 6, ngf, 2, norm, padding, dropout, upsample, activation,
                  init, init_gain)


def global_generator(in_channels: int, out_channels: int, ngf: int = 64, downsamplings: int = 4,
                     blocks: int = 9, norm: NormName = "instance", padding: Padding = "reflect",
                     dropout: float = 0.0, upsample: Upsample = "transposed", activation: Activation = "tanh",
                     init: InitName = "normal", init_gain: float = 0.02) -> ResnetGenerator:
    """pix2pixHD's global generator: ResNet blocks between ``downsamplings`` downsamplings,
    every convolution biased (defaults are pix2pixHD's: 4 downsamplings, 9 blocks, instance norm)."""
    net = ResnetGenerator(in_channels, out_channels, ngf, blocks, downsamplings, norm, padding, dropout,
                          upsample, activation, bias=True)
    return init_weights(net, init, init_gain)
