"""The one place that builds the data path for training, validation and evaluation:
the recipe's source -> deterministic splits -> checked datasets decoded at the size of
their frame -> the batch pipeline on the device.

Training decodes the ``train`` split at the training preprocessing's size (random crops
are cut on the device); validation, sample grids and ``i2i eval`` decode the held-out
splits for ``train.eval_frame`` (or ``i2i eval --frame``): ``full`` frames or ``crop``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from i2i.assembly.components import build_source
from i2i.data.dataset import CheckedDataset
from i2i.data.pipeline import BatchPipeline
from i2i.data.splits import split_datasets
from i2i.plugins import Plugins
from i2i.recipe import Recipe
from i2i.taskspec import TaskSpec

#: The name of the evaluation set that is every sample of a ``--data`` folder without split folders.
WHOLE_DATA = "all"


def checked(dataset: Dataset, task: TaskSpec, recipe: Recipe, frame: str, plugins: Plugins) -> CheckedDataset:
    """``dataset`` checked against ``task`` and decoded for ``frame`` (``train``, ``full``, ``crop``);
    a channel mismatch names the task option to set when the task has it."""
    d = recipe.data
    settable = tuple(plugins["tasks"].get(recipe.task.name).parameters())
    origin = f"source {recipe.source.name!r} (plugin {plugins['sources'].get(recipe.source.name).plugin!r})"
    return CheckedDataset(dataset, task.expected_channels(), d.preprocess, d.load_size, d.crop_size, d.on_error,
                          settable=settable, frame=frame, origin=origin)


def source_splits(plugins: Plugins, recipe: Recipe) -> dict[str, Dataset]:
    """The source's samples by split: its own split folders, else the recipe's hold-outs."""
    return split_datasets(build_source(plugins, recipe), recipe.data, recipe.run.seed)


def training_splits(plugins: Plugins, recipe: Recipe, task: TaskSpec) -> dict[str, CheckedDataset]:
    """``train`` decoded for training, ``val``/``test`` (when present) for ``train.eval_frame``."""
    return {name: checked(ds, task, recipe, "train" if name == "train" else recipe.train.eval_frame, plugins)
            for name, ds in source_splits(plugins, recipe).items()}


def whole_data(plugins: Plugins, recipe: Recipe) -> Dataset | None:
    """Every sample under ``data.root`` when it has no split folders (no hold-outs cut from
    it): what ``i2i eval --data FOLDER`` scores. ``None`` when the root has split folders."""
    source = build_source(plugins, recipe)
    root = Path(recipe.data_root) if recipe.data_root else None
    if source.splits() != ["train"] or root is None or (root / "train").is_dir():
        return None
    return source.dataset("train")


def pipeline(recipe: Recipe, task: TaskSpec, device: torch.device, *, frame: str | None = None,
             channels_last: bool = False) -> BatchPipeline:
    """The batch pipeline; evaluation batches are cut to ``frame`` (default ``train.eval_frame``)."""
    return BatchPipeline.from_recipe(recipe, task, device, channels_last=channels_last, frame=frame)
