"""The Python API: what ``i2i run``, ``i2i predict`` and ``i2i eval`` do, as functions.

::

    import i2i

    run = i2i.train("medical_ct", ["train.steps=200"], out="runs/ct")   # a finished run directory
    model = i2i.load_model(run.run_dir)                                   # its final (EMA) generator
    hu = i2i.predict(model, fbp_slice)                                    # an array or tensor, any size
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


def predict(model: LoadedModel, image: torch.Tensor | np.ndarray, *, tile: int = 1024, overlap: int = 256,
            train_mode: bool = False) -> torch.Tensor | np.ndarray:
    """``model`` on one image of any size: a tensor ``(C, H, W)`` gives a tensor ``(C_out, H, W)``;
    a numpy array ``(H, W)`` or ``(H, W, C)`` gives an array of the same layout. Images larger
    than ``tile`` are predicted in blended tiles, as ``i2i predict`` does."""
    import numpy as np
    import torch

    from i2i.inference.predict import PredictOptions, Predictor

    predictor = Predictor(model, PredictOptions(tile=tile, overlap=overlap, train_mode=train_mode))
    if isinstance(image, torch.Tensor):
        return predictor.predict(image)
    array = np.asarray(image)
    flat = array.ndim == 2
    chw = torch.from_numpy(np.ascontiguousarray(array[None] if flat else np.moveaxis(array, -1, 0)))
    if chw.dtype == torch.uint16:
        chw = chw.to(torch.int32)  # 16-bit values, as the decoders give them
    out = predictor.predict(chw).numpy()
    return out[0] if flat and out.shape[0] == 1 else np.moveaxis(out, 0, -1)


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
