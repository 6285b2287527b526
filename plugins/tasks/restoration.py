"""``restoration``: undo degradations made on the device — noise, blur, JPEG artifacts,
low resolution — applied in the order listed, with per-image random strengths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F

from i2i.tasks import Task, pair_generator, uniform

Degradation = Literal["noise", "blur", "jpeg", "downsample"]


class RestorationTask(Task):
    """Degrade the target to make the input, on the device, per image:

    - ``noise``: additive Gaussian noise, sigma ~ U(``noise_sigma``) in [0, 1] intensity units;
    - ``blur``: Gaussian blur, sigma ~ U(``blur_sigma``) pixels;
    - ``jpeg``: JPEG compression at quality ~ U(``jpeg_quality``) (kornia's differentiable codec;
      1-channel images are coded as grey RGB);
    - ``downsample``: area downsampling by an integer factor from ``scale`` (one per batch),
      then bicubic upsampling back, so the input has the target's size (SRCNN-style
      super-resolution).

    Training draws strengths from the global generator; evaluation from a fixed seed, so
    validation pairs are the same every time.
    """

    recipe_defaults = {
        "data": {"source": "folder"},
        "generator": {"name": "unet_256"},
        "discriminator": {"name": "patchgan"},
        "losses": {"gan": {"name": "vanilla", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }

    def __init__(self, channels: int = 3, degradations: list[Degradation] = ("noise",),
                 noise_sigma: tuple[float, float] = (0.02, 0.1), blur_sigma: tuple[float, float] = (0.5, 2.0),
                 jpeg_quality: tuple[float, float] = (20.0, 60.0), scale: tuple[int, int] = (2, 4)):
        if not degradations:
            raise ValueError("degradations is empty; choose from 'noise', 'blur', 'jpeg', 'downsample'")
        for name, (low, high) in (("noise_sigma", noise_sigma), ("blur_sigma", blur_sigma),
                                  ("jpeg_quality", jpeg_quality), ("scale", scale)):
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a range [low, high] with 0 <= low <= high, got {[low, high]}")
        if not (1 <= jpeg_quality[0] and jpeg_quality[1] <= 100):
            raise ValueError(f"jpeg_quality must lie in [1, 100], got {list(jpeg_quality)}")
        super().__init__(channels, channels)
        self.degradations = list(degradations)
        self.noise_sigma, self.blur_sigma, self.jpeg_quality, self.scale = noise_sigma, blur_sigma, jpeg_quality, scale

    def expected_channels(self) -> dict[str, int]:
        return {"target": self.out_channels}

    def degrade(self, y: torch.Tensor, train: bool) -> torch.Tensor:
        """The degraded input for a [-1, 1] batch ``y``."""
        g = pair_generator(train)
        n, device = y.shape[0], y.device
        x = ((y.float() + 1) / 2).clamp(0, 1)
        for step in self.degradations:
            if step == "noise":
                sigma = uniform(n, *self.noise_sigma, g, device).view(n, 1, 1, 1)
                x = x + sigma * torch.randn(x.shape, generator=g).to(device)
            elif step == "blur":
                from kornia.filters import gaussian_blur2d

                sigma = uniform(n, *self.blur_sigma, g, device).clamp_min(1e-3)
                size = 2 * int(3 * self.blur_sigma[1]) + 1
                x = gaussian_blur2d(x, (size, size), torch.stack([sigma, sigma], 1))
            elif step == "jpeg":
                from kornia.enhance import jpeg_codec_differentiable

                quality = uniform(n, *self.jpeg_quality, g, device)
                rgb = x.clamp(0, 1).expand(-1, 3, -1, -1) if x.shape[1] == 1 else x.clamp(0, 1)
                coded = jpeg_codec_differentiable(rgb, quality)
                x = coded.mean(1, keepdim=True) if x.shape[1] == 1 else coded
            elif step == "downsample":
                factor = int(torch.randint(self.scale[0], self.scale[1] + 1, (), generator=g))
                h, w = x.shape[-2:]
                small = F.interpolate(x, size=(max(1, h // factor), max(1, w // factor)), mode="area")
                x = F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)
        return x.clamp(0, 1) * 2 - 1

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        y = batch["target"]
        self.check_channels(y, self.out_channels, "target", "task.channels", batch)
        return self.degrade(y, train), y
