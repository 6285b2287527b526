"""The model's input: what a task takes it to be, and making it from clean images.

A task whose ``make_pair`` builds the input from the target (CT sparse-view or low-dose
physics, inpainting holes, restoration's degradations, colorization's lightness) trains on
inputs it made itself. ``i2i predict`` takes its files as such inputs, and says so in one
line (:func:`input_line`); given clean images (``--from-clean``, the Python
``i2i.make_input`` / ``i2i.predict(..., from_clean=True)``), it makes the input from each
with the task's own ``make_pair`` through the evaluation pipeline (:class:`InputMaker`):
the same physics at the image's own pixel size, and the same per-image seed as ``i2i eval``
(:func:`i2i.data.pair_random.image_seed` of ``run.seed`` and the image's index).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from i2i.assembly import datapath
from i2i.errors import UsageError
from i2i.inference.model import LoadedModel
from i2i.taskspec import TaskSpec

#: Side of the tiny image :func:`makes_its_input` probes a task with.
PROBE_SIDE = 16


class _NeedsInput(Exception):
    """Raised by the probe batch when a task reads the sample's ``input``."""


class _TargetOnly(dict):
    """A batch holding a target alone; reading ``batch["input"]`` raises :class:`_NeedsInput`."""

    def __getitem__(self, key: str) -> Any:
        if key == "input":
            raise _NeedsInput
        return super().__getitem__(key)


def makes_its_input(task: TaskSpec) -> bool:
    """Whether ``task.make_pair`` builds the input from the target alone (probed once on a
    tiny image in data units: a task that reads the sample's ``input`` takes it from files)."""
    probe = _TargetOnly(target=torch.zeros(1, task.out_channels, PROBE_SIDE, PROBE_SIDE))
    try:
        with torch.random.fork_rng(devices=[]):
            task.make_pair(probe, False)
    except _NeedsInput:
        return False
    except Exception:  # a task that cannot take the probe: nothing is claimed about it
        return False
    return True


def input_line(model: LoadedModel) -> str | None:
    """The one line ``i2i predict`` says about its inputs when the model's task makes its
    input itself (``None`` otherwise): what the inputs are taken to be, and ``--from-clean``.
    The task's ``acquisition()`` describes it when the task has one; else the recipe's task
    options do."""
    task = model.task
    if not makes_its_input(task):
        return None
    acquisition = getattr(task, "acquisition", None)
    described = acquisition() if callable(acquisition) else None
    if isinstance(described, Mapping) and described.get("description"):
        what = f"{described['description']} (the model's input)"
    else:
        spec = model.recipe.task
        options = ", ".join(f"{k}={v!r}" for k, v in sorted(spec.options.items()))
        given = f" ({options})" if options else ""
        what = f"the model's input as task {spec.name!r}{given} makes it from a clean image"
    units = " in HU" if task.input_units == "hu" else ""
    return (f"inputs are taken as {what}{units}; give clean images with --from-clean to make that input from them, "
            "as eval does")


class InputMaker:
    """Makes ``model``'s input from clean images with its task's ``make_pair``, through the
    evaluation pipeline (full frame, per-image seeds), exactly as ``i2i eval`` makes pairs."""

    def __init__(self, model: LoadedModel):
        if not makes_its_input(model.task):
            raise UsageError(f"--from-clean: task {model.recipe.task.name!r} takes its input from files (its pairs are "
                             "two images), so there is no input to make from a clean image; predict without "
                             "--from-clean")
        self.model = model
        self.pipeline = datapath.pipeline(model.recipe, model.task, model.device, frame="full")

    def network_input(self, image: torch.Tensor, spacing: Sequence[float] | None = None, index: int = 0,
                      name: str = "<image>") -> torch.Tensor:
        """A clean decoded ``(C, H, W)`` image (file values: HU for CT) -> the network input
        ``(1, C_in, H, W)``; ``spacing`` (row, col mm) reaches physics that depend on the pixel
        size; ``index`` seeds the image's draws as eval seeds image ``index``."""
        raw: dict[str, Any] = {"target": image.unsqueeze(0), "index": torch.tensor([int(index)]), "path": [name]}
        if spacing is not None:
            raw["spacing"] = torch.tensor([[float(s) for s in spacing]], dtype=torch.float64)
        try:
            with torch.no_grad():
                x, _ = self.pipeline(raw, False)
        except (ValueError, KeyError) as exc:
            raise UsageError(f"{name}: cannot make the model's input from it: {exc}") from None
        return x

    def data_input(self, image: torch.Tensor, spacing: Sequence[float] | None = None, index: int = 0) -> torch.Tensor:
        """The made input in data units, ``(C, H, W)`` (HU for CT): what :func:`i2i.make_input` returns."""
        return self.model.task.decode_input(self.network_input(image, spacing, index))[0].float().cpu()
