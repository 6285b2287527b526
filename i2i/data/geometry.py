"""The reference preprocessing's random part and the geometric augmentation, on the
training device, in batch, with one draw shared by input and target (drawn on that device:
no copy of CPU draws to a GPU, which would make the host wait).

All image tensors of a batch (input, target, masks) are concatenated along channels and
transformed once. Values keep their type: crops, flips and 90-degree rotations only move
pixels, so an identity pipeline returns the data bit for bit; interpolating kornia
operations work in float and integer data are rounded back (as the reference's PIL
resizing of 8-bit images does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from i2i.data.augment_ops import build


class PairGeometry(nn.Module):
    """Random crop (``crop``, ``*_and_crop`` modes; when evaluating, a centre crop in the
    ``crop`` frame and none in the ``full`` frame), flips, 90-degree rotations and
    recipe-named kornia geometric operations (training only)."""

    def __init__(self, preprocess: str = "resize_and_crop", crop_size: int = 256, flip: bool = True,
                 vflip: bool = False, rot90: bool = False, geometric: Sequence[Mapping[str, Any]] = ()):
        super().__init__()
        self.crop_size = crop_size if preprocess in ("resize_and_crop", "crop", "scale_width_and_crop") else None
        self.flip, self.vflip, self.rot90 = flip, vflip, rot90
        self.extra = None
        if geometric:
            import kornia.augmentation as K

            self.extra = K.AugmentationSequential(*[build("geometric", entry) for entry in geometric])

    @classmethod
    def from_recipe(cls, recipe) -> PairGeometry:
        a = recipe.augment
        return cls(recipe.data.preprocess, recipe.data.crop_size, a.flip, a.vflip, a.rot90, a.geometric)

    def forward(self, batch: Mapping[str, Any], train: bool, frame: str = "crop") -> dict[str, Any]:
        keys = [k for k, v in batch.items() if isinstance(v, torch.Tensor) and v.ndim == 4]
        result = dict(batch)
        if not keys:
            return result
        sizes = [batch[k].shape[1] for k in keys]
        dtypes = {k: batch[k].dtype for k in keys}
        common = torch.float32 if len(set(dtypes.values())) > 1 else batch[keys[0]].dtype
        x = torch.cat([batch[k].to(common) for k in keys], dim=1)
        if self.crop_size is not None and (train or frame == "crop"):
            x = random_crop(x, self.crop_size) if train else center_crop(x, self.crop_size)
        if train:
            x = self._random(x)
        for key, part in zip(keys, torch.split(x, sizes, dim=1)):
            result[key] = part.to(dtypes[key]) if part.dtype != dtypes[key] else part
        return result

    def _random(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if self.flip:
            x = torch.where(_coin(n, x.device), x.flip(-1), x)
        if self.vflip:
            x = torch.where(_coin(n, x.device), x.flip(-2), x)
        if self.rot90:
            x = random_rot90(x)
        if self.extra is not None:
            dtype = x.dtype
            y = self.extra(x.float())
            x = y if dtype.is_floating_point else y.round().clamp(x.amin(), x.amax()).to(dtype)
        return x


def _coin(n: int, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, device=device) < 0.5).view(n, 1, 1, 1)


def random_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """A random ``size`` x ``size`` window per sample (exact indexing, no interpolation)."""
    h, w = x.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"crop_size {size} is larger than the image ({h}x{w}); lower data.crop_size or "
                         "raise data.load_size")
    return random_window(x, size, size)


def random_window(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A random ``height`` x ``width`` window per sample (exact indexing)."""
    n, c, h, w = x.shape
    top = torch.randint(0, h - height + 1, (n,), device=x.device)
    left = torch.randint(0, w - width + 1, (n,), device=x.device)
    rows = (top[:, None] + torch.arange(height, device=x.device))[:, None, :, None]
    cols = (left[:, None] + torch.arange(width, device=x.device))[:, None, None, :]
    return x[torch.arange(n, device=x.device)[:, None, None, None], torch.arange(c, device=x.device)[None, :, None, None],
             rows, cols]


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` x ``size`` window (the whole side when it is smaller)."""
    h, w = x.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return x[..., top:top + size, left:left + size]


def random_rot90(x: torch.Tensor) -> torch.Tensor:
    """Per-sample rotation by k x 90 degrees (k in 0..3 for square images, 0 or 2 otherwise
    so that the batch keeps one shape)."""
    n = x.shape[0]
    square = x.shape[-1] == x.shape[-2]
    k = torch.randint(0, 4, (n,), device=x.device) if square else torch.randint(0, 2, (n,), device=x.device) * 2
    k = k.view(n, 1, 1, 1)
    out = x
    for turns in (1, 2, 3) if square else (2,):
        out = torch.where(k == turns, torch.rot90(x, turns, dims=(-2, -1)), out)
    return out


def random_patches(x: torch.Tensor, y: torch.Tensor, size: int, count: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` random ``size`` x ``size`` windows per image, the same window in ``x`` and
    ``y``: ``(N * count, C, size, size)`` each, the patches of image ``i`` at ``i * count ...``.
    A side shorter than ``size`` is taken whole (small images train whole)."""
    h, w = x.shape[-2:]
    both = torch.cat([x, y], 1).repeat_interleave(count, 0)
    patches = random_window(both, min(size, h), min(size, w))
    return patches[:, :x.shape[1]], patches[:, x.shape[1]:]
