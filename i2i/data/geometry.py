"""The reference preprocessing (resize, crop, flip) on the training device, in batch.

All image tensors of a batch (input, target, masks...) are concatenated along channels
and transformed once, so each random draw applies identically to all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kornia.augmentation as K
import torch
from torch import nn

from i2i.recipe.schema import DataSection


class PairGeometry(nn.Module):
    """``resize_and_crop``: resize to ``load_size`` then random crop ``crop_size``;
    ``crop``: random crop only; ``none``: unchanged. Random horizontal flip when ``flip``.
    Evaluation (``train=False``) uses a center crop and no flip."""

    def __init__(self, preprocess: str = "resize_and_crop", load_size: int = 286, crop_size: int = 256,
                 flip: bool = True):
        super().__init__()
        self.preprocess = preprocess
        resize = [K.Resize((load_size, load_size), resample="bicubic", align_corners=False, antialias=True)] \
            if preprocess == "resize_and_crop" else []
        crop = preprocess in ("resize_and_crop", "crop")
        self.train_ops = nn.Sequential(*resize,
                                       *([K.RandomCrop((crop_size, crop_size))] if crop else []),
                                       *([K.RandomHorizontalFlip()] if flip else []))
        self.eval_ops = nn.Sequential(*resize, *([K.CenterCrop((crop_size, crop_size))] if crop else []))

    @classmethod
    def from_recipe(cls, data: DataSection) -> PairGeometry:
        return cls(data.preprocess, data.load_size, data.crop_size, data.flip)

    def forward(self, batch: Mapping[str, Any], train: bool) -> dict[str, Any]:
        keys = [k for k, v in batch.items() if isinstance(v, torch.Tensor) and v.ndim == 4]
        if not keys:
            return dict(batch)
        ops = self.train_ops if train else self.eval_ops
        if len(ops) == 0:
            return dict(batch)
        sizes = [batch[k].shape[1] for k in keys]
        stacked = torch.cat([batch[k] for k in keys], dim=1)
        low, high = stacked.amin(), stacked.amax()
        out = ops(stacked)
        if self.preprocess == "resize_and_crop":  # bicubic overshoot stays in the data's range
            out = out.clamp(low, high)
        result = dict(batch)
        result.update(zip(keys, torch.split(out, sizes, dim=1)))
        return result
