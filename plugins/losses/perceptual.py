"""Perceptual (VGG feature) loss from a local weights file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from i2i.losses import ReconstructionLoss
from i2i.nn.weights import load_state_file

#: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 of VGG19 (torchvision indices), pix2pixHD's weights
VGG19_LAYERS = {1: 1 / 32, 6: 1 / 16, 11: 1 / 8, 20: 1 / 4, 29: 1.0}
VGG16_LAYERS = {1: 1 / 32, 6: 1 / 16, 11: 1 / 8, 18: 1 / 4, 25: 1.0}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_vgg_features(path: str, arch: Literal["vgg16", "vgg19"]) -> nn.Sequential:
    """torchvision's VGG ``features`` with weights from ``path`` (a torchvision VGG state dict:
    .safetensors, or .pth/.pt/.bin read with ``torch.load(weights_only=True)``)."""
    from torchvision.models.vgg import cfgs, make_layers

    file = Path(path).expanduser()
    state = load_state_file(file)
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    if not features:
        raise ValueError(f"{file} holds no 'features.*' tensors; expected a torchvision {arch} state dict "
                         f"(keys like 'features.0.weight'), got keys such as {sorted(state)[:3]}")
    net = make_layers(cfgs["E" if arch == "vgg19" else "D"])
    missing, unexpected = net.load_state_dict(features, strict=False)
    if missing or unexpected:
        raise ValueError(f"{file} does not fit torchvision's {arch}: missing {missing[:4]}, unexpected {unexpected[:4]}")
    return net.eval().requires_grad_(False)


class Perceptual(ReconstructionLoss):
    """Weighted L1 between VGG features of output and target (pix2pixHD's VGGLoss: relu1_1..relu5_1
    with weights 1/32, 1/16, 1/8, 1/4, 1). Inputs in [-1, 1] are mapped to ImageNet
    normalisation; 1-channel images are repeated to RGB. ``weights`` is a local file of
    torchvision VGG weights (e.g. vgg19-dcbb9e9d.pth): i2i never downloads."""

    def __init__(self, weights: str | None = None, arch: Literal["vgg16", "vgg19"] = "vgg19"):
        if not weights:
            raise ValueError("the perceptual loss needs VGG weights from a local file: set "
                             "losses.<label>.weights = \"/path/to/vgg19-dcbb9e9d.pth\" (torchvision's VGG19 "
                             "ImageNet weights, .pth or .safetensors); i2i never downloads weights")
        self.layers = VGG19_LAYERS if arch == "vgg19" else VGG16_LAYERS
        self.net = load_vgg_features(weights, arch)[: max(self.layers) + 1]
        self.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        #: ``(mean, std)`` by device and dtype, copied once (a copy to a GPU per call makes the host wait).
        self._normalisation: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The chosen VGG activations of a [-1, 1] image batch."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(f"the perceptual loss takes 1- or 3-channel images, got {x.shape[1]} channels")
        key = (x.device, x.dtype)
        if key not in self._normalisation:
            self.net.to(x.device)
            self._normalisation[key] = (self.mean.to(x.device, x.dtype), self.std.to(x.device, x.dtype))
        mean, std = self._normalisation[key]
        h = ((x + 1) / 2 - mean) / std
        out = []
        for i, layer in enumerate(self.net):
            h = layer(h)
            if i in self.layers:
                out.append(h)
        return out

    def __call__(self, output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Per-pixel weights are ignored: VGG features mix neighbouring pixels."""
        weights = list(self.layers.values())
        with torch.no_grad():
            target_feats = self.features(target)
        return sum(w * F.l1_loss(o, t) for w, o, t in zip(weights, self.features(output), target_feats))
