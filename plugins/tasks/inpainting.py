"""``inpainting``: fill holes, with box and free-form masks generated on the device."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch

from i2i.data.pair_random import PairRandom
from i2i.tasks import Task

MaskKind = Literal["box", "free_form", "mixed"]


def box_masks(h: int, w: int, size: tuple[float, float], random: PairRandom) -> torch.Tensor:
    """One random rectangle per image, sides a random fraction in ``size`` of the image's."""
    n, device = random.n, random.device
    bh = (random.uniform(*size) * h).clamp(min=1)
    bw = (random.uniform(*size) * w).clamp(min=1)
    top = random.uniform(0, 1) * (h - bh)
    left = random.uniform(0, 1) * (w - bw)
    rows = torch.arange(h, device=device).view(1, h, 1)
    cols = torch.arange(w, device=device).view(1, 1, w)
    inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + bh).view(n, 1, 1))
              & (cols >= left.view(n, 1, 1)) & (cols < (left + bw).view(n, 1, 1)))
    return inside.float().unsqueeze(1)


def free_form_masks(h: int, w: int, strokes: tuple[int, int], width: tuple[float, float], random: PairRandom,
                    vertices: int = 6) -> torch.Tensor:
    """Random brush strokes (DeepFill v2 style): per image up to ``strokes[1]`` polylines of
    ``vertices`` random-walk vertices, thickness a fraction in ``width`` of the shorter side.
    Rasterised for the whole batch at once as distances to line segments."""
    n, device, s_max = random.n, random.device, strokes[1]
    count = random.randint(strokes[0], strokes[1] + 1)
    side = min(h, w)
    start = torch.stack([random.uniform(0, h, (s_max,)).reshape(-1), random.uniform(0, w, (s_max,)).reshape(-1)], -1)
    angles = random.uniform(0, 2 * math.pi, (s_max, vertices)).view(n * s_max, vertices)
    lengths = random.uniform(0.05, 0.25, (s_max, vertices)).view(n * s_max, vertices) * side
    steps = torch.stack([torch.sin(angles), torch.cos(angles)], -1) * lengths.unsqueeze(-1)
    points = torch.cat([start.unsqueeze(1), start.unsqueeze(1) + steps.cumsum(1)], 1)  # (S, V+1, 2)
    radius = (random.uniform(*width, (s_max,)) * side / 2).view(n * s_max, 1, 1)
    yy, xx = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    pixels = torch.stack([yy, xx], -1).view(1, 1, h * w, 2)
    a, b = points[:, :-1].unsqueeze(2), points[:, 1:].unsqueeze(2)  # (S, V, 1, 2)
    ab = b - a
    t = (((pixels - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-6)).clamp(0, 1)
    dist = (pixels - (a + t.unsqueeze(-1) * ab)).norm(dim=-1).amin(1)  # (S, H*W)
    hit = (dist.view(n * s_max, h, w) <= radius).view(n, s_max, h, w)
    active = (torch.arange(s_max, device=device).view(1, s_max) < count.view(n, 1)).view(n, s_max, 1, 1)
    return (hit & active).any(1, keepdim=True).float()


class InpaintingTask(Task):
    """The input is the image with its hole zeroed (mid-grey in [-1, 1]) plus the mask as an
    extra channel (+1 in the hole, -1 elsewhere); the target is the whole image. Masks are
    ``box``, ``free_form`` strokes or ``mixed`` (half of each), drawn on the device.

    ``loss_region``: ``all`` pixels alike, only the ``hole``, or ``weighted`` (hole pixels
    weigh ``hole_weight``, the rest 1) for the reconstruction losses. Outputs keep the known
    pixels and take the hole from the network (the usual composite).
    """

    recipe_defaults = {
        "source": {"name": "folder"},
        "generator": {"name": "unet_256"},
        "discriminator": {"name": "patchgan"},
        "losses": {"gan": {"name": "vanilla", "weight": 1.0}, "l1": {"name": "l1", "weight": 100.0}},
    }

    def __init__(self, channels: int = 3, mask: MaskKind = "mixed", box_size: tuple[float, float] = (0.2, 0.5),
                 strokes: tuple[int, int] = (1, 4), stroke_width: tuple[float, float] = (0.03, 0.08),
                 loss_region: Literal["all", "hole", "weighted"] = "all", hole_weight: float = 6.0):
        if not 0 < box_size[0] <= box_size[1] <= 1:
            raise ValueError(f"box_size must be fractions 0 < low <= high <= 1, got {list(box_size)}")
        if not 1 <= strokes[0] <= strokes[1]:
            raise ValueError(f"strokes must be counts 1 <= low <= high, got {list(strokes)}")
        super().__init__(channels + 1, channels)
        self.mask, self.box_size, self.strokes, self.stroke_width = mask, box_size, strokes, stroke_width
        self.loss_region, self.hole_weight = loss_region, hole_weight

    def expected_channels(self) -> dict[str, int]:
        return {"target": self.out_channels}

    def masks(self, h: int, w: int, random: PairRandom) -> torch.Tensor:
        """(N, 1, H, W) masks, 1 in the hole, drawn from ``random`` (one generator per image at
        evaluation time, so an image gets the same hole at any batch size)."""
        if self.mask == "box":
            return box_masks(h, w, self.box_size, random)
        strokes = free_form_masks(h, w, self.strokes, self.stroke_width, random)
        if self.mask == "free_form":
            return strokes
        boxes = box_masks(h, w, self.box_size, random)
        pick = (random.uniform(0, 1) < 0.5).view(random.n, 1, 1, 1)
        return torch.where(pick, boxes, strokes)

    def make_pair(self, batch: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        y = batch["target"]
        self.check_channels(y, self.out_channels, "target", "task.channels", batch)
        m = self.masks(y.shape[-2], y.shape[-1], PairRandom.for_batch(batch, train))
        y = self.encode_target(y)
        return torch.cat([y * (1 - m), m * 2 - 1], 1), y

    @staticmethod
    def hole(x: torch.Tensor) -> torch.Tensor:
        """The mask (N, 1, H, W), 1 in the hole, from a network input."""
        return ((x[:, -1:] + 1) / 2).round()

    def pixel_weights(self, x: torch.Tensor) -> torch.Tensor | None:
        if self.loss_region == "all":
            return None
        m = self.hole(x)
        return m if self.loss_region == "hole" else 1 + (self.hole_weight - 1) * m

    def augment_input(self, x: torch.Tensor, ops: Any) -> torch.Tensor:
        image = super().augment_input(x[:, :-1], ops) * (1 - self.hole(x))
        return torch.cat([image, x[:, -1:]], 1)

    def composite(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Known pixels from the input, the hole from ``y`` (network range)."""
        m = self.hole(x)
        return x[:, :-1] * (1 - m) + y * m

    has_baseline = True  # the image with its hole unfilled is the identity baseline

    def baseline_output(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :-1]

    def decode_input(self, x: torch.Tensor) -> torch.Tensor:
        """The image part of the input (the hole mid-grey)."""
        return super().decode_input(x[:, :-1])

    def decode_output(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The composite: known pixels from the input, the hole from ``y``."""
        return super().decode_output(x, self.composite(x, y))

    def encode_input(self, data: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] whose last channel is the mask (RGBA PNGs with the hole transparent,
        or C + 1 channels with 1 = hole)."""
        if data.shape[1] != self.in_channels:
            raise ValueError(f"inpainting input needs {self.out_channels} image channels plus a mask channel "
                             f"({self.in_channels} in all, e.g. RGBA with the hole transparent); got {data.shape[1]}")
        x = data * 2.0 - 1.0
        if data.shape[1] == 4 and self.out_channels == 3:  # alpha: opaque = known, transparent = hole
            m = (1 - data[:, -1:]).round()
            x = torch.cat([x[:, :-1] * (1 - m), m * 2 - 1], 1)
        return x
