"""``unet_timm``: a U-Net whose encoder is any timm backbone created with ``features_only=True``.

The decoder reads the backbone's ``feature_info`` (channels and reductions) and climbs
back to full resolution one step at a time: at each step it upsamples (nearest), joins
the encoder feature of that resolution (the input image itself at full resolution) and
applies two 3x3 conv-norm-ReLU layers; a step without an encoder feature (ConvNeXt starts
at 1/4) just upsamples by two. A 3x3 convolution and the output activation finish.

No download is ever needed: timm builds the backbone with ``pretrained=False`` and
``in_chans=in_channels``; ``weights`` names a local file whose tensors are then loaded
into the encoder (see :mod:`timm_weights`). The encoder keeps timm's own initialisation;
``init`` applies to the decoder only.
"""

from __future__ import annotations

import difflib

import torch
import torch.nn.functional as F
from torch import nn

from i2i.nn import InitName, NormName, conv_bias, init_weights, norm_layer
from i2i.nn.checks import check_dropout, check_int
from i2i.nn.layers import Activation, in_fp32, output_activation
from i2i_plugins.generators.timm_weights import load_encoder_weights


class DecoderBlock(nn.Module):
    """Upsample to ``size``, concatenate the skip (if any), then two 3x3 conv-norm-ReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, norm: NormName, dropout: float):
        super().__init__()
        bias = conv_bias(norm)
        layers = [nn.Conv2d(in_channels + skip_channels, out_channels, 3, padding=1, bias=bias),
                  norm_layer(norm, out_channels), nn.ReLU(True),
                  nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias),
                  norm_layer(norm, out_channels), nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
        if tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=size, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], 1)
        return self.conv(x)


def decoder_plan(reductions: list[int]) -> list[tuple[int, int | None]]:
    """The decoder's steps as ``(reduction, skip)``: ``skip`` is the index of the encoder
    feature joined at that step, ``-1`` for the input image, ``None`` for none.

    From the deepest feature up to reduction 1, halving the reduction where the encoder
    has no feature in between: ``[4, 8, 16, 32]`` gives 16, 8, 4, 2 (no skip), 1 (input).
    """
    plan: list[tuple[int, int | None]] = []
    current = reductions[-1]
    targets = [(reductions[i], i) for i in range(len(reductions) - 2, -1, -1)] + [(1, -1)]
    for reduction, skip in targets:
        while current % 2 == 0 and current // 2 > reduction:
            current //= 2
            plan.append((current, None))
        current = reduction
        plan.append((reduction, skip))
    return plan


class TimmUNet(nn.Module):
    """A timm ``features_only`` encoder under a U-Net decoder that adapts to its features.

    ``decoder_channels`` is the width of the first (deepest) decoder step; each later step
    halves it, down to 16. Inputs must divide by the deepest reduction (``size_divisor``).
    """

    def __init__(self, encoder: nn.Module, in_channels: int, out_channels: int, decoder_channels: int = 256,
                 norm: NormName = "batch", dropout: float = 0.0, activation: Activation = "tanh"):
        super().__init__()
        self.encoder = encoder
        channels = list(encoder.feature_info.channels())
        reductions = list(encoder.feature_info.reduction())
        self.size_divisor = int(max(reductions))
        fmt = getattr(encoder, "output_fmt", "NCHW")
        self.channels_last_features = str(getattr(fmt, "value", fmt)) == "NHWC"
        self.plan = decoder_plan(reductions)
        floor = min(16, decoder_channels)
        blocks = []
        width = channels[-1]
        for step, (_, skip) in enumerate(self.plan):
            skip_channels = 0 if skip is None else in_channels if skip == -1 else channels[skip]
            out = max(decoder_channels // 2 ** step, floor)
            blocks.append(DecoderBlock(width, skip_channels, out, norm, dropout))
            width = out
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.Conv2d(width, out_channels, 3, padding=1), *output_activation(activation))
        #: Whether the head runs in float32 under autocast (set by i2i when the task's outputs
        #: are physical units such as HU).
        self.fp32_output = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        if self.channels_last_features:
            features = [f.permute(0, 3, 1, 2) for f in features]
        y = features[-1]
        for block, (_, skip) in zip(self.decoder, self.plan):
            if skip is None:
                y = block(y, None, (y.shape[-2] * 2, y.shape[-1] * 2))
            else:
                skip_map = x if skip == -1 else features[skip]
                y = block(y, skip_map, tuple(skip_map.shape[-2:]))
        return in_fp32(self.head, y) if self.fp32_output else self.head(y)


def create_encoder(backbone: str, in_channels: int) -> nn.Module:
    """``timm.create_model(backbone, features_only=True, pretrained=False, in_chans=in_channels)``
    with errors that name close backbone names."""
    import timm

    if not timm.is_model(backbone):
        close = difflib.get_close_matches(backbone, timm.list_models(), n=5, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ValueError(f"unknown timm backbone {backbone!r}{hint}; timm.list_models() lists them")
    try:
        return timm.create_model(backbone, features_only=True, pretrained=False, in_chans=in_channels)
    except (RuntimeError, TypeError, AssertionError) as exc:
        raise ValueError(f"timm backbone {backbone!r} cannot be built with features_only=True "
                         f"and in_chans={in_channels}: {exc}") from exc


def unet_timm(in_channels: int, out_channels: int, backbone: str = "resnet34", weights: str | None = None,
              decoder_channels: int = 256, norm: NormName = "batch", dropout: float = 0.0,
              activation: Activation = "tanh", init: InitName = "normal", init_gain: float = 0.02) -> TimmUNet:
    """U-Net on any timm backbone (``features_only``); ``weights``: a local .safetensors/.pth
    file for the encoder (never downloaded); ``init`` applies to the decoder only."""
    check_int("decoder_channels", decoder_channels, 1)
    check_dropout(dropout)
    encoder = create_encoder(backbone, in_channels)
    if weights is not None:
        load_encoder_weights(encoder, backbone, weights, in_channels)
    net = TimmUNet(encoder, in_channels, out_channels, decoder_channels, norm, dropout, activation)
    init_weights(net.decoder, init, init_gain)
    init_weights(net.head, init, init_gain)
    return net
