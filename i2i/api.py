"""The Python API: what ``i2i run``, ``i2i predict`` and ``i2i eval`` do, as functions.

::

    import i2i

    run = i2i.train("medical_ct", ["train.steps=200"], out="runs/ct")   # a finished run directory
    model = i2i.load_model(run.run_dir)                                   # its final (EMA) generator
    hu = i2i.predict(model, fbp_slice, pixel_size_mm=0.49)                # an array or tensor, any size
    fbp = i2i.make_input(model, clean_slice, pixel_size_mm=0.49)          # the model's input, as eval makes it
    i2i.predict_files(model, ["scan/"], "predicted/")                     # files, like `i2i predict`
    result = i2i.evaluate(model, data="held_out_scans/")                  # metrics, like `i2i eval`

Inputs are what a decoder gives: integers for 8/16-bit images (uint8; 16-bit values as
uint16 or int32), floats for float images and for CT (HU); outputs are in the task's data
units (floats in [0, 1] for images, HU for CT). Errors are :class:`i2i.errors.I2IError`
subclasses (``UsageError`` for bad input) with messages naming what was wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from i2i.workflow.run import RunResult
    from i2i.evaluation.evaluate import EvalResult
    from i2i.inference.model import LoadedModel


def train(recipe: str | Path | None, overrides: Sequence[str] = (), *, out: str | Path | None = None,
          device: str | None = None, resume: str | Path | bool | None = None, init_from: str | Path | None = None,
          finish: bool = True, quiet: bool = True) -> RunResult:
    """Train ``recipe`` (a shipped recipe's name or a file) with ``--set``-style ``overrides``
    (``["train.steps=100"]``) into a run directory, then evaluate it and write its report:
    exactly ``i2i run``. ``resume`` continues a run (its directory, or ``True`` for the
    recipe's newest run); ``init_from`` fine-tunes from trained weights (an i2i checkpoint or a
    reference ``latest_net_G.pth``). Returns a :class:`~i2i.workflow.run.RunResult` (``run_dir``,
    ``status``, ``step``, ``evaluation``, ``report``)."""
    from i2i.workflow.run import train as run_training

    return run_training(recipe, overrides, out=out, device=device, resume=resume, init_from=init_from,
                        finish=finish, quiet=quiet)


def load_model(checkpoint: str | Path, device: str = "cpu", ema: bool = True) -> LoadedModel:
    """The generator of ``checkpoint`` (a run directory, a checkpoint folder or a generator
    ``.safetensors``; its EMA weights when it has them and ``ema``) with the task and recipe
    it was trained with, ready for :func:`predict` and :func:`evaluate`."""
    from i2i.inference.model import load_model as load

    return load(checkpoint, device, ema=ema)


def predict(model: LoadedModel, image: torch.Tensor | np.ndarray, *,
            pixel_size_mm: float | Sequence[float] | None = None, from_clean: bool = False, index: int = 0,
            tile: int = 1024, overlap: int = 256, train_mode: bool = False) -> torch.Tensor | np.ndarray:
    """``model`` on one image of any size: a tensor ``(C, H, W)`` gives a tensor ``(C_out, H, W)``;
    a numpy array ``(H, W)`` or ``(H, W, C)`` gives an array of the same layout. Images larger
    than ``tile`` are predicted in blended tiles, as ``i2i predict`` does.

    ``pixel_size_mm``: the image's pixel size in mm, one number or ``(row, col)``; outside the
    pixel sizes the model was trained at, the image is resampled to them for the model and the
    output back, as ``i2i predict`` and ``i2i eval`` do with a file's spacing (a model with a
    recorded pixel size warns when none is given). ``from_clean``: ``image`` is a clean image
    (a full-dose slice); the model's input is made from it first, as :func:`make_input` makes
    it (``index`` seeds its draws), so the output equals ``i2i eval``'s for that image."""
    import numpy as np
    import torch

    from i2i.inference.predict import PredictOptions, Predictor

    spacing = _pixel_size(model, pixel_size_mm)
    predictor = Predictor(model, PredictOptions(tile=tile, overlap=overlap, train_mode=train_mode,
                                                from_clean=from_clean))
    predictor.seen = int(index)
    if isinstance(image, torch.Tensor):
        return predictor.predict(image, spacing)
    array = np.asarray(image)
    flat = array.ndim == 2
    out = predictor.predict(_chw(array), spacing).numpy()
    return out[0] if flat and out.shape[0] == 1 else np.moveaxis(out, 0, -1)


def make_input(model: LoadedModel, clean: torch.Tensor | np.ndarray, *, pixel_size_mm: float | Sequence[float] | None
               = None, index: int = 0) -> torch.Tensor | np.ndarray:
    """The model's input made from a ``clean`` image by its task's physics, exactly as
    ``i2i eval`` makes it: the sparse-view or low-dose reconstruction of a CT slice in HU, an
    image with its hole for inpainting. ``clean`` as :func:`predict` takes images (a tensor
    ``(C, H, W)`` or an array ``(H, W[, C])``; HU for CT); the result is in data units, same
    kind and layout. ``pixel_size_mm`` reaches physics that depend on it (low-dose noise);
    ``index`` seeds the image's random draws as eval seeds its image of that index (with the
    run's seed), so the input is the one eval scored. Give the result to :func:`predict` (with
    the same ``pixel_size_mm``), or call ``predict(..., from_clean=True)`` in one step."""
    import numpy as np
    import torch

    from i2i.inference.task_input import InputMaker

    spacing = _pixel_size(model, pixel_size_mm, warn_missing=False)
    maker = InputMaker(model)
    if isinstance(clean, torch.Tensor):
        return maker.data_input(clean, spacing, index)
    array = np.asarray(clean)
    made = maker.data_input(_chw(array), spacing, index).numpy()
    return made[0] if array.ndim == 2 and made.shape[0] == 1 else np.moveaxis(made, 0, -1)


def _chw(array: np.ndarray) -> torch.Tensor:
    """An ``(H, W)`` or ``(H, W, C)`` array as the ``(C, H, W)`` tensor a decoder gives."""
    import numpy as np
    import torch

    chw = torch.from_numpy(np.ascontiguousarray(array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)))
    return chw.to(torch.int32) if chw.dtype == torch.uint16 else chw  # 16-bit values, as the decoders give them


def _pixel_size(model: LoadedModel, pixel_size_mm: float | Sequence[float] | None,
                warn_missing: bool = True) -> tuple[float, float] | None:
    """``pixel_size_mm`` as ``(row, col)`` mm, checked; a warning when the model was trained at
    a recorded pixel size and none is given (the image is then taken as it is)."""
    import math

    from i2i.errors import UsageError
    from i2i.messages import warn

    if pixel_size_mm is None:
        trained = model.pixel_range
        if warn_missing and trained is not None:
            warn(f"the model was trained at {trained.low:.3g}-{trained.high:.3g} mm pixels and no pixel_size_mm was "
                 "given: the image is taken at the model's own pixel size, without resampling (give pixel_size_mm "
                 "to resample it as i2i predict and i2i eval do)")
        return None
    sizes = [pixel_size_mm] * 2 if isinstance(pixel_size_mm, (int, float)) else list(pixel_size_mm)
    if len(sizes) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in sizes):
        raise UsageError(f"pixel_size_mm: one size in mm > 0 or (row, col), got {pixel_size_mm!r}")
    return float(sizes[0]), float(sizes[1])


def predict_files(model: LoadedModel, inputs: Sequence[str | Path], out_dir: str | Path, **options: Any) -> list[Path]:
    """Predict files, folders or glob patterns into ``out_dir`` in their own formats and bit
    depths (DICOM and NIfTI included): exactly ``i2i predict``. ``options`` are those of
    :class:`i2i.inference.predict.PredictOptions` (``tile``, ``batch_size``, ``ext``...)."""
    from i2i.inference.files import collect_inputs
    from i2i.inference.files import predict_files as run
    from i2i.inference.predict import PredictOptions

    return run(model, collect_inputs([str(i) for i in inputs]), Path(out_dir), PredictOptions(**options))


def evaluate(model: LoadedModel, data: str | Path | None = None, *, split: str | None = None, batch_size: int = 1,
             frame: str | None = None, max_images: int | None = None) -> EvalResult:
    """Metrics of ``model`` and of the identity baseline on held-out pairs: exactly ``i2i eval``.
    ``data`` replaces the recipe's data location (a folder with split folders: its test split;
    a folder of pairs or volumes: all of it). Returns an :class:`~i2i.evaluation.evaluate.EvalResult`
    (``summary`` as in ``eval.json``, ``rows`` per image); :func:`i2i.evaluation.summary.write_result`
    writes them."""
    from i2i.evaluation.evaluate import EvalOptions
    from i2i.evaluation.evaluate import evaluate as run

    if data is not None:  # the same model, reading its pairs from ``data``
        model = dataclasses.replace(model, recipe=model.recipe.with_data_root(data))
    return run(model, EvalOptions(split=split, batch_size=batch_size, frame=frame, max_images=max_images,
                                  whole_data=data is not None))
