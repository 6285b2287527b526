"""``edges2photo``: photos from edge maps computed on the device (kornia Canny)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from i2i.tasks import Task


class Edges2PhotoTask(Task):
    """The input is the Canny edge map of the target photo, black lines on white (as the
    pix2pix edges2shoes/handbags data), computed on the training device: grayscale, Gaussian
    smoothing ``sigma``, gradient thresholds ``low_threshold``/``high_threshold`` (on [0, 1]
    intensities) with hysteresis. ``threshold_jitter`` > 0 scales both thresholds by a random
    factor in [1 - j, 1 + j] per training batch (augmentation); evaluation uses them as given.
    """

    recipe_defaults = {
        "source": {"name": "folder"},
        "generator": {"name": "unet_256"},
        "discriminator": {"name": "patchgan"},
        "losses": {"gan": {"name": "vanilla", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }
    allows_photometric = False  # the input is derived; jitter the edges' source instead

    def __init__(self, out_channels: int = 3, low_threshold: float = 0.1, high_threshold: float = 0.2,
                 sigma: float = 1.0, threshold_jitter: float = 0.0):
        if not 0 <= low_threshold < high_threshold <= 1:
            raise ValueError(f"need 0 <= low_threshold < high_threshold <= 1, got {low_threshold}, {high_threshold}")
        if not 0 <= threshold_jitter < 1:
            raise ValueError(f"threshold_jitter must be in [0, 1), got {threshold_jitter}")
        super().__init__(1, out_channels)
        self.low, self.high, self.sigma, self.jitter = low_threshold, high_threshold, sigma, threshold_jitter

    def expected_channels(self) -> dict[str, int]:
        return {"target": self.out_channels}

    has_baseline = False  # an edge map is not a photo

    def edges(self, photo: torch.Tensor, train: bool) -> torch.Tensor:
        """Edge map (N, 1, H, W) in [-1, 1], lines at -1 (black), of a [0, 1] photo batch."""
        from kornia.color import rgb_to_grayscale
        from kornia.filters import canny

        unit = photo.float().clamp(0, 1)
        gray = rgb_to_grayscale(unit) if unit.shape[1] == 3 else unit[:, :1]
        scale = 1.0
        if train and self.jitter:
            scale = 1.0 + self.jitter * (2 * torch.rand(()).item() - 1)  # training only: the global stream
        kernel = 2 * round(3 * self.sigma) + 1
        _, edges = canny(gray, self.low * scale, min(1.0, self.high * scale), kernel_size=max(3, kernel),
                         sigma=(self.sigma, self.sigma))
        return 1.0 - 2.0 * edges

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        y = batch["target"]
        self.check_channels(y, self.out_channels, "target", "task.out_channels", batch)
        return self.edges(y, train), self.encode_target(y)

    def encode_input(self, data: torch.Tensor) -> torch.Tensor:
        """Edge-map files (grayscale or RGB in [0, 1], lines dark) -> the 1-channel network input."""
        grey = data.mean(1, keepdim=True) if data.shape[1] > 1 else data
        return grey * 2.0 - 1.0
