"""From a decoded batch to the network's ``(input, target)`` on the training device.

Order: to the device (non-blocking from pinned memory) -> shared geometry on the raw
values -> ``task.to_data_units`` (file values -> data units) -> ``task.make_pair`` (builds the input
from the target for unpaired tasks) -> random patches of the pair (training, with
``data.patch_size``) -> photometric augmentation of the input (training, where the task
allows it) -> channels-last layout when asked.

A task with a ``deterministic_input`` (a sparse-view FBP at a fixed view count) has its
inputs made once per sample and kept (:mod:`i2i.data.input_cache`) when the geometry does not
crop: the kept input then goes through the geometry with its target.

Evaluation batches (``train=False``) are cut to the pipeline's ``frame`` (``full``: as
decoded; ``crop``: the centre crop) and carry each image's pair seed
(:func:`i2i.data.pair_random.image_seed` of the run seed and the sample's ``index``), so
the pairs a task makes do not depend on how images were batched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from i2i.data.augment_ops import build
from i2i.data.geometry import PairGeometry, random_patches
from i2i.data.input_cache import InputCache
from i2i.data.pair_random import SEEDS_KEY, image_seed
from i2i.tasks import IMAGE_ROLES
from i2i.taskspec import TaskSpec


#: Batch keys kept on the host: read there (each image's pair seed), never copied to the device
#: only to be read back one value at a time.
HOST_KEYS = ("index",)


class BatchPipeline:
    """``pipeline(raw_batch, train) -> (x, y)``."""

    def __init__(self, task: TaskSpec, geometry: PairGeometry, device: torch.device,
                 photometric: Sequence[Mapping[str, Any]] = (), channels_last: bool = False, frame: str = "crop",
                 seed: int = 0, patch_size: int | None = None, patches_per_image: int = 1):
        self.task = task
        self.patch_size, self.patches_per_image = patch_size, patches_per_image
        self.frame = frame
        self.seed = seed
        self.geometry = geometry.to(device)
        self.device = device
        self.channels_last = channels_last
        self.inputs = InputCache() if task.deterministic_input and self.geometry.crop_size is None else None
        self.photometric = None
        if photometric:
            import kornia.augmentation as K

            self.photometric = K.AugmentationSequential(*[build("photometric", e) for e in photometric]).to(device)

    @classmethod
    def from_recipe(cls, recipe, task: TaskSpec, device: torch.device, channels_last: bool = False,
                    frame: str | None = None) -> BatchPipeline:
        """The recipe's pipeline; evaluation batches are cut to ``frame`` (default ``train.eval_frame``)."""
        return cls(task, PairGeometry.from_recipe(recipe), device, recipe.augment.photometric, channels_last,
                   frame or recipe.train.eval_frame, recipe.run.seed, recipe.data.patch_size,
                   recipe.data.patches_per_image)

    def __call__(self, raw: Mapping[str, Any], train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        batch = {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) and k not in HOST_KEYS
                 else v for k, v in raw.items()}
        if not train and "index" in batch:
            batch[SEEDS_KEY] = [image_seed(self.seed, int(i)) for i in batch["index"]]
        if self.inputs is not None and "path" in batch and not isinstance(batch.get("input"), torch.Tensor):
            batch = self.inputs.fill({**batch, "target": self.task.to_data_units(batch["target"], "target")},
                                     lambda part: self.task.make_input(part, train))
        batch = self.geometry(batch, train=train, frame=self.frame)
        for role in IMAGE_ROLES:
            if isinstance(batch.get(role), torch.Tensor):
                batch[role] = self.task.to_data_units(batch[role], role)
        x, y = self.task.make_pair(batch, train)
        if train and self.patch_size is not None:
            x, y = random_patches(x, y, self.patch_size, self.patches_per_image)
        if train and self.photometric is not None and self.task.allows_photometric:
            x = self.task.augment_input(x, self.photometric)
        if self.channels_last:
            x, y = x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)
        return x, y
