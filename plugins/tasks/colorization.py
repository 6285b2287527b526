"""``colorization``: grayscale -> colour from any folder of colour photos (pix2pix's
colorization mode). The input is the L channel of CIE Lab, the output ab (or RGB)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch

from i2i.tasks import Task, to_unit_range

L_SCALE, AB_SCALE = 50.0, 110.0  # the reference: L / 50 - 1, ab / 110


class ColorizationTask(Task):
    """Input: L of Lab scaled to [-1, 1] (L / 50 - 1). Output ``ab`` (ab / 110, as pix2pix) or
    ``rgb``. Targets are colour photos (3 channels; others are reported or skipped).
    Outputs are recombined with the input's L and saved as RGB; metrics compare the RGB images
    (``output_image``)."""

    recipe_defaults = {
        "data": {"source": "folder"},
        "generator": {"name": "unet_256"},
        "discriminator": {"name": "patchgan"},
        "losses": {"gan": {"name": "vanilla", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }

    def __init__(self, output: Literal["ab", "rgb"] = "ab"):
        super().__init__(1, 2 if output == "ab" else 3)
        self.output = output

    def expected_channels(self) -> dict[str, int]:
        return {"target": 3}

    def to_network(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(batch)
        out["target"] = to_unit_range(batch["target"])  # RGB in [0, 1]: make_pair converts to Lab
        return out

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        from kornia.color import rgb_to_lab

        rgb = batch["target"].clamp(0, 1)
        lab = rgb_to_lab(rgb)
        x = lab[:, :1] / L_SCALE - 1.0
        y = lab[:, 1:] / AB_SCALE if self.output == "ab" else rgb * 2.0 - 1.0
        return x, y

    def rgb(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] from a network input (L) and an output or target."""
        from kornia.color import lab_to_rgb

        if self.output == "rgb":
            return ((y.float() + 1) / 2).clamp(0, 1)
        lab = torch.cat([(x.float() + 1) * L_SCALE, y.float() * AB_SCALE], 1)
        return lab_to_rgb(lab).clamp(0, 1)

    def output_image(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.rgb(x, y)

    def inputs_from_images(self, images: torch.Tensor) -> torch.Tensor:
        """Grayscale files are taken as L directly (their luminance); colour files are converted."""
        from kornia.color import rgb_to_lab

        unit = to_unit_range(images)
        if unit.shape[1] == 1:
            unit = unit.expand(-1, 3, -1, -1)
        return rgb_to_lab(unit[:, :3].clamp(0, 1))[:, :1] / L_SCALE - 1.0

    def input_comparable(self) -> bool:
        return False

    def display_images(self, x, output, target):
        return ((x.float() + 1) / 2).clamp(0, 1), self.rgb(x, output), self.rgb(x, target)
