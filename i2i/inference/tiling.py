"""Overlapping tiles blended with a smooth window, so large images need memory for one
tile at a time and show no seams.

Tiles of ``tile`` x ``tile`` pixels start at evenly spread positions that overlap by at
least ``overlap``. Each tile's output is weighted by a separable window that is 1 in its
middle and falls off over ``overlap`` pixels towards every side that borders another tile
(sides on the image border keep weight 1): a raised-cosine (Hann) ramp across the middle
half of the overlap, a near-zero weight in its outer quarter, where the tile's pixels saw
padding rather than their real neighbours (see :func:`ramp_window`). The
blended image is the weighted sum divided by the sum of weights. Because the window is
separable and the tile grid is a product of row and column positions, the sum of
weights is the outer product of two 1-D sums: no full-size weight image is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def tile_starts(size: int, tile: int, overlap: int, align: int = 1) -> list[int]:
    """Start positions along one side: one tile when ``size <= tile``, else the fewest
    evenly spread tiles, starting at multiples of ``align``, that overlap by at least
    ``overlap`` (``size`` and ``tile`` are multiples of ``align``)."""
    if size <= tile:
        return [0]
    count = math.ceil((size - tile) / max(1, tile - overlap)) + 1
    while True:
        starts = sorted({align * round(i * (size - tile) / (count - 1) / align) for i in range(count)})
        if all(b - a <= tile - overlap for a, b in zip(starts, starts[1:])) or count > size:
            return starts
        count += 1


def reflect_indices(start: int, length: int, offset: int, size: int,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """Indices (on ``device``) into a side of ``size`` for padded positions ``start ..
    start+length-1``, where the image begins at padded position ``offset``: outside the image
    they mirror it without repeating the edge (``reflect`` padding, as
    :func:`i2i.nn.sizing.pad_to_multiple`)."""
    j = torch.arange(start - offset, start - offset + length, device=device)
    if size == 1:
        return torch.zeros_like(j)
    period = 2 * (size - 1)
    j = j.remainder(period)
    return torch.where(j >= size, period - j, j)


#: Weight of the outermost quarter of each overlap (tile borders see the least context).
FLOOR = 1e-3


def ramp_window(length: int, ramp: int, left: bool, right: bool) -> torch.Tensor:
    """A 1-D window of ``length``: 1, with a ramp of ``ramp`` samples at the ``left`` and/or
    ``right`` end. The ramp's outer quarter weighs :data:`FLOOR` (a tile's border pixels
    saw padding instead of their neighbours, so the neighbouring tile's take over), its
    middle half rises as a raised cosine, its inner quarter is 1. Never 0."""
    w = torch.ones(length, dtype=torch.float64)
    ramp = min(ramp, length // 2)
    if ramp > 0:
        margin = ramp // 4
        rising = max(1, ramp - 2 * margin)
        rise = torch.ones(ramp, dtype=torch.float64)
        rise[:margin] = FLOOR
        cosine = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(rising, dtype=torch.float64) + 0.5) / rising)
        rise[margin:margin + rising] = cosine.clamp_min(FLOOR)
        if left:
            w[:ramp] = rise
        if right:
            w[length - ramp:] = rise.flip(0)
    return w


@dataclass(frozen=True)
class Box:
    """A tile: rows ``top:top+height``, columns ``left:left+width``."""

    top: int
    left: int
    height: int
    width: int

    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)


class TilePlan:
    """The tiles of an ``height`` x ``width`` image and their blending windows.

    ``tile <= 0``, or an image no larger than ``tile``, gives one tile: the whole image
    (the generator pads it to its size divisor). Otherwise the image is seen reflect-padded
    to a multiple of ``align`` (the generator's size divisor), centred as the untiled
    generator pads it, and cut into tiles of a multiple of ``align`` pixels starting at
    multiples of ``align``: every tile sees the same pixel grid as the untiled network
    (a U-Net is only shift-equivariant for shifts by its size divisor). Box coordinates
    are in that padded frame.
    """

    def __init__(self, height: int, width: int, tile: int, overlap: int, align: int = 1):
        self.height, self.width = height, width
        tile = -(-tile // align) * align if tile > 0 else 0
        self.tiled = tile > 0 and (height > tile or width > tile)
        if not self.tiled:
            self.top = self.left = self.overlap = 0
            self.padded_h, self.padded_w = height, width
            self.tile_h, self.tile_w = height, width
        else:
            self.padded_h, self.padded_w = -(-height // align) * align, -(-width // align) * align
            self.top, self.left = (self.padded_h - height) // 2, (self.padded_w - width) // 2
            self.tile_h, self.tile_w = min(tile, self.padded_h), min(tile, self.padded_w)
            self.overlap = max(0, min(overlap, self.tile_h // 2, self.tile_w // 2, tile - align))
        self.rows = tile_starts(self.padded_h, self.tile_h, self.overlap, align)
        self.cols = tile_starts(self.padded_w, self.tile_w, self.overlap, align)
        self._row_windows = self._windows(self.rows, self.tile_h, self.padded_h)
        self._col_windows = self._windows(self.cols, self.tile_w, self.padded_w)
        self.row_sum = self._sum(self.rows, self._row_windows, self.padded_h)
        self.col_sum = self._sum(self.cols, self._col_windows, self.padded_w)

    def _windows(self, starts: list[int], length: int, size: int) -> list[torch.Tensor]:
        return [ramp_window(length, self.overlap, s > 0, s + length < size) for s in starts]

    @staticmethod
    def _sum(starts: list[int], windows: list[torch.Tensor], size: int) -> torch.Tensor:
        total = torch.zeros(size, dtype=torch.float64)
        for s, w in zip(starts, windows):
            total[s:s + w.numel()] += w
        return total

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def boxes(self) -> list[Box]:
        """Every tile, row by row (padded coordinates)."""
        return [Box(t, l, self.tile_h, self.tile_w) for t in self.rows for l in self.cols]

    def crop(self, image: torch.Tensor, box: Box) -> torch.Tensor:
        """The pixels of ``box`` from ``image`` (..., H, W), reflected where the box leaves it."""
        if not self.tiled:
            return image
        r0, c0 = box.top - self.top, box.left - self.left  # image coordinates
        if 0 <= r0 and r0 + box.height <= self.height:
            out = image[..., r0:r0 + box.height, :]
        else:
            out = image.index_select(-2, reflect_indices(box.top, box.height, self.top, self.height, image.device))
        if 0 <= c0 and c0 + box.width <= self.width:
            return out[..., c0:c0 + box.width]
        return out.index_select(-1, reflect_indices(box.left, box.width, self.left, self.width, image.device))

    def weight(self, box: Box, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The (height, width) blending window of ``box``, already divided by the sum of
        all windows, so that adding every weighted tile gives the blended image."""
        i, j = self.rows.index(box.top), self.cols.index(box.left)
        wy = self._row_windows[i] / self.row_sum[box.top:box.top + box.height]
        wx = self._col_windows[j] / self.col_sum[box.left:box.left + box.width]
        return (wy[:, None] * wx[None, :]).to(dtype)


class Blender:
    """Accumulates weighted tile outputs (C, h, w) into a (C, H, W) float32 image on ``device``."""

    def __init__(self, plan: TilePlan, channels: int, device: torch.device | str = "cpu"):
        self.plan = plan
        self.image = torch.zeros(channels, plan.height, plan.width, dtype=torch.float32, device=device)
        self.remaining = len(plan)

    def add(self, box: Box, output: torch.Tensor) -> None:
        """Add a tile's output (C, box.height, box.width), weighted, keeping what lies in the image."""
        plan = self.plan
        if not plan.tiled:
            self.image.copy_(output.to(self.image.device, torch.float32))
            self.remaining -= 1
            return
        weighted = output.float() * plan.weight(box).to(output.device)
        top, left = box.top - plan.top, box.left - plan.left  # image coordinates
        r0, r1 = max(0, top), min(plan.height, top + box.height)
        c0, c1 = max(0, left), min(plan.width, left + box.width)
        if r0 < r1 and c0 < c1:
            part = weighted[:, r0 - top:r1 - top, c0 - left:c1 - left]
            self.image[:, r0:r1, c0:c1] += part.to(self.image.device)
        self.remaining -= 1

    @property
    def done(self) -> bool:
        return self.remaining == 0
