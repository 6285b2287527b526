"""Rebuilding a trained generator from a checkpoint alone.

Every generator ``.safetensors`` written by the trainer (and by ``i2i export --format
safetensors``) carries the full resolved recipe as JSON in its metadata; the task and the
generator are rebuilt from it and the weights loaded.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from i2i.assembly import components as B
from i2i.devices import configure_device
from i2i.errors import UsageError
from i2i.finite import nonfinite_weights
from i2i.inference.pixel_size import PixelRange
from i2i.plugins import Plugins, get_plugins
from i2i.recipe import Recipe, load_recipe, resolve
from i2i.runs.checkpoint import (
    CheckpointError,
    load_weights,
    read_metadata,
    resolve_checkpoint,
)
from i2i.runs.provenance import check_installed
from i2i.taskspec import TaskSpec

GENERATOR_FILES = ("generator_ema.safetensors", "generator.safetensors")


@dataclass
class LoadedModel:
    """A generator ready for inference, with the task and recipe it was trained with."""

    recipe: Recipe
    task: TaskSpec
    generator: nn.Module
    weights: Path
    step: int | None
    device: torch.device
    #: The plugins it was rebuilt with (their formats read and write its files); None: the process's.
    plugins: Plugins | None = None

    @property
    def checkpoint(self) -> Path:
        """The folder the weights came from."""
        return self.weights.parent

    @property
    def run_dir(self) -> Path | None:
        """The run directory holding this checkpoint (``RUN/checkpoints/step_*/``), if any."""
        run = self.weights.parent.parent.parent
        return run if (run / "recipe.toml").exists() and self.weights.parent.parent.name == "checkpoints" else None

    @property
    def size_divisor(self) -> int:
        return int(getattr(self.generator, "size_divisor", 1) or 1)

    @functools.cached_property
    def pixel_range(self):
        """The pixel sizes (mm) the model was trained at (:class:`i2i.inference.pixel_size.PixelRange`),
        or ``None`` when its training data had none (photos), the model was built in memory, or
        its task's input is relative to each image's size (``Task.size_relative_input``: a
        sparse-view FBP at a fraction of full sampling applies at any pixel size as it is)."""
        if not self.weights.is_file():  # built in memory (benchmarks, tests): no recorded geometry
            return None
        if self.task.size_relative_input:
            return None
        return PixelRange.from_metadata(read_metadata(self.weights))


def generator_file(checkpoint: str | Path, ema: bool = True) -> Path:
    """The generator weights to use: a ``*.safetensors`` file given directly is used as is;
    a checkpoint folder or run directory gives ``generator_ema.safetensors`` when it exists
    (and ``ema``), else ``generator.safetensors``."""
    p = Path(checkpoint)
    if p.is_file() and p.suffix == ".safetensors":
        return p
    if p.is_file():
        raise UsageError(f"{checkpoint}: not a checkpoint; give a run directory, a checkpoint folder "
                         "(checkpoints/step_*/) or a generator .safetensors file")
    folder = resolve_checkpoint(p)
    names = GENERATOR_FILES if ema else GENERATOR_FILES[1:]
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise UsageError(f"{folder}: no generator weights in it (looked for {', '.join(names)})")


def recipe_of(weights: Path, overrides: dict[str, Any] | None = None, plugins: Plugins | None = None) -> Recipe:
    """The resolved recipe stored in a weights file's metadata, with ``overrides`` (nested
    tables, e.g. ``{"data": {"root": PATH}}``) layered on top and validated. A recipe stored in
    the old layout (before ``[source]``) is read as such, without a deprecation note."""
    meta = read_metadata(weights)
    if meta.get("role") == "discriminator":
        raise UsageError(f"{weights}: holds discriminator weights; give the generator's file or the checkpoint folder")
    if "recipe" not in meta:
        raise UsageError(f"{weights}: has no recipe in its metadata (not written by i2i); "
                         "give a checkpoint made by `i2i run` or `i2i export --format safetensors`")
    try:
        tables = json.loads(meta["recipe"])
    except ValueError as exc:
        raise CheckpointError(f"{weights}: the recipe in its metadata is not valid JSON: {exc}") from None
    plugins = plugins or get_plugins()
    check_installed(plugins, meta, str(weights))
    return resolve(f"{weights}[recipe]", tables, overrides or {}, None, plugins, announce=False)


def load_model(checkpoint: str | Path, device: torch.device | str = "cpu", ema: bool = True,
               overrides: dict[str, Any] | None = None, plugins: Plugins | None = None) -> LoadedModel:
    """Rebuild the task and generator of ``checkpoint`` (see :func:`generator_file`) on
    ``device``, in eval mode."""
    plugins = plugins or get_plugins()
    configure_device(torch.device(device))
    weights = generator_file(checkpoint, ema)
    recipe = recipe_of(weights, overrides, plugins)
    task = B.build_task(plugins, recipe)
    generator = B.build_generator(plugins, recipe, task)
    load_weights(generator, weights)
    generator.to(torch.device(device)).eval()
    step = read_metadata(weights).get("step")
    return LoadedModel(recipe, task, generator, weights, int(step) if step and step.isdigit() else None,
                       torch.device(device), plugins)


def with_data_from(model: LoadedModel, run_dir: Path, plugins: Plugins | None = None) -> LoadedModel:
    """``model`` reading the data and held-out splits of the run in ``run_dir`` (its
    ``recipe.toml``: source, ``[data]``, seed), e.g. the shipped model on a fine-tuned run's
    test split (``i2i eval --split-from``)."""
    recipe_file = Path(run_dir) / "recipe.toml"
    if not recipe_file.is_file():
        raise UsageError(f"--split-from {run_dir}: not a run directory (no recipe.toml in it); give the run whose "
                         "held-out split to score")
    other = load_recipe(recipe_file, (), plugins or model.plugins)
    return dataclasses.replace(model, recipe=model.recipe.with_data_from(other))


def refuse_nonfinite_weights(model: LoadedModel) -> None:
    """Fail naming the weights file when the generator holds NaN/inf values (its outputs would)."""
    bad = nonfinite_weights({"generator": model.generator.state_dict()})
    if bad:
        hint = " (or --no-ema for the raw weights)" if model.weights.name == GENERATOR_FILES[0] else ""
        raise CheckpointError(f"{model.weights}: {bad['generator']} weight value(s) are NaN or infinite; the "
                              f"model's outputs would be too. Use an earlier checkpoint{hint}")



