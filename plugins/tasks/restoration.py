"""``restoration``: undo degradations made on the device — noise, blur, JPEG artifacts,
low resolution — applied in the order listed, with per-image random strengths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F

from i2i.data.pair_random import PairRandom
from i2i.tasks import Task

Degradation = Literal["noise", "blur", "jpeg", "downsample"]


class RestorationTask(Task):
    """Degrade the target to make the input, on the device, per image:

    - ``noise``: additive Gaussian noise, sigma ~ U(``noise_sigma``) in [0, 1] intensity units;
    - ``blur``: Gaussian blur, sigma ~ U(``blur_sigma``) pixels;
    - ``jpeg``: JPEG compression at quality ~ U(``jpeg_quality``) (kornia's differentiable codec;
      1-channel images are coded as grey RGB);
    - ``downsample``: area downsampling by an integer factor drawn from ``scale`` per image,
      then bicubic upsampling back, so the input has the target's size (SRCNN-style
      super-resolution).

    Training draws strengths from the global stream; evaluation gives every image its own
    seeded draws (:class:`~i2i.data.pair_random.PairRandom`), so validation and ``i2i eval``
    degrade an image the same way at any batch size.
    """

    recipe_defaults = {
        "source": {"name": "folder"},
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

    def degrade(self, y: torch.Tensor, random: PairRandom) -> torch.Tensor:
        """The degraded [0, 1] input for a [0, 1] batch ``y``, strengths drawn from ``random``
        (noise on the batch's device; blur sigmas, JPEG qualities and scale factors on the host,
        where kornia checks them and the images are grouped by factor: no device value is read)."""
        n = y.shape[0]
        x = y.float().clamp(0, 1)
        for step in self.degradations:
            if step == "noise":
                sigma = random.uniform(*self.noise_sigma).view(n, 1, 1, 1)
                x = x + sigma * random.normal(tuple(x.shape[1:]))
            elif step == "blur":
                from kornia.filters import gaussian_blur2d

                sigma = random.on_host().uniform(*self.blur_sigma).clamp_min(1e-3)
                size = 2 * int(3 * self.blur_sigma[1]) + 1
                x = gaussian_blur2d(x, (size, size), torch.stack([sigma, sigma], 1))
            elif step == "jpeg":
                from kornia.enhance import jpeg_codec_differentiable

                quality = random.on_host().uniform(*self.jpeg_quality)
                rgb = x.clamp(0, 1).expand(-1, 3, -1, -1) if x.shape[1] == 1 else x.clamp(0, 1)
                coded = jpeg_codec_differentiable(rgb, quality)
                x = coded.mean(1, keepdim=True) if x.shape[1] == 1 else coded
            elif step == "downsample":
                x = self.downsample(x, random.on_host().randint(self.scale[0], self.scale[1] + 1))
        return x.clamp(0, 1)

    @staticmethod
    def downsample(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
        """Area-downsample image ``i`` by ``factors[i]`` (best on the host) and bicubic-upsample it back."""
        h, w = x.shape[-2:]
        out = x.clone()
        for factor in sorted(set(factors.tolist())):
            pick = (factors == factor).nonzero().flatten().to(x.device, non_blocking=True)
            small = F.interpolate(x[pick], size=(max(1, h // factor), max(1, w // factor)), mode="area")
            out[pick] = F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)
        return out

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        y = batch["target"]
        self.check_channels(y, self.out_channels, "target", "task.channels", batch)
        return self.encode_input(self.degrade(y, PairRandom.for_batch(batch, train))), self.encode_target(y)
