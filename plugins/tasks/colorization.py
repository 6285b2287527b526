"""``colorization``: grayscale -> colour from any folder of colour photos (pix2pix's
colorization mode). The input is the L channel of CIE Lab, the output ab (or RGB)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch

from i2i.tasks import Task

L_SCALE, AB_SCALE = 50.0, 110.0  # the reference: L / 50 - 1, ab / 110


class ColorizationTask(Task):
    """Input: L of Lab scaled to [-1, 1] (L / 50 - 1). Output ``ab`` (ab / 110, as pix2pix) or
    ``rgb``. Targets are colour photos (3 channels; others are reported or skipped).
    Outputs are recombined with the input's L and saved as RGB; metrics compare the RGB images
    (``decode_output``)."""

    recipe_defaults = {
        "source": {"name": "folder"},
        "generator": {"name": "unet_256"},
        "discriminator": {"name": "patchgan"},
        "losses": {"gan": {"name": "vanilla", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }

    def __init__(self, output: Literal["ab", "rgb"] = "ab"):
        super().__init__(1, 2 if output == "ab" else 3)
        self.output = output

    has_baseline = False  # grey L and colour ab are different spaces

    def expected_channels(self) -> dict[str, int]:
        return {"target": 3}

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        from kornia.color import rgb_to_lab

        rgb = batch["target"].clamp(0, 1)  # 3 channels: expected_channels is checked on every sample
        lab = rgb_to_lab(rgb)  # once for both sides (encode_input/encode_target each convert)
        target = lab[:, 1:] / AB_SCALE if self.output == "ab" else rgb * 2.0 - 1.0
        return lab[:, :1] / L_SCALE - 1.0, target

    def encode_input(self, data: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> L / 50 - 1; grey images are taken as L directly (their luminance)."""
        from kornia.color import rgb_to_lab

        if data.shape[1] == 1:
            data = data.expand(-1, 3, -1, -1)
        return rgb_to_lab(data[:, :3].clamp(0, 1))[:, :1] / L_SCALE - 1.0

    def encode_target(self, data: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> ab / 110 (or RGB in [-1, 1])."""
        from kornia.color import rgb_to_lab

        rgb = data.clamp(0, 1)
        return rgb_to_lab(rgb)[:, 1:] / AB_SCALE if self.output == "ab" else rgb * 2.0 - 1.0

    def decode_input(self, x: torch.Tensor) -> torch.Tensor:
        """The input's L as a grey image in [0, 1]."""
        return ((x.float() + 1) / 2).clamp(0, 1)

    def decode_output(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] from a network input (L) and an output or target."""
        from kornia.color import lab_to_rgb

        if self.output == "rgb":
            return ((y.float() + 1) / 2).clamp(0, 1)
        lab = torch.cat([(x.float() + 1) * L_SCALE, y.float() * AB_SCALE], 1)
        return lab_to_rgb(lab).clamp(0, 1)
