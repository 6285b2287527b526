"""Optional TensorBoard logging, switched on in a recipe::

    [plugins.tensorboard]
    enabled = true
    log_dir = "tensorboard"     # inside the run directory (default)

Needs the ``tensorboard`` extra (``pip install 'i2i-toolkit[tensorboard]'``); without it a warning is
printed once and training goes on. Writes every logged loss, learning rate, images/s and
validation metric as scalars, and each sample grid as an image.
"""

from __future__ import annotations

import sys
from typing import Any

from i2i import hookimpl

_writers: dict[int, Any] = {}


def _options(trainer) -> dict[str, Any]:
    return dict(trainer.recipe.plugin_options("tensorboard"))


@hookimpl
def on_train_start(trainer) -> None:
    """Open a SummaryWriter in the run directory when the recipe enables it."""
    options = _options(trainer)
    unknown = set(options) - {"enabled", "log_dir"}
    if unknown:
        print(f"i2i.tensorboard: ignoring unknown options {sorted(unknown)}; accepted: enabled, log_dir",
              file=sys.stderr)
    if not options.get("enabled", False):
        return
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print("i2i.tensorboard: [plugins.tensorboard] is enabled but the tensorboard package is not installed "
              "(pip install 'i2i-toolkit[tensorboard]'); continuing without it", file=sys.stderr)
        return
    _writers[id(trainer)] = SummaryWriter(log_dir=str(trainer.run_dir / options.get("log_dir", "tensorboard")),
                                          purge_step=trainer.step + 1 if trainer.step else None)


@hookimpl
def on_step_end(trainer, step: int, logs: dict[str, float]) -> None:
    """Log this step's scalars (only logging steps carry any)."""
    writer = _writers.get(id(trainer))
    if writer is None or not logs:
        return
    for key, value in logs.items():
        if key not in ("step", "epoch") and isinstance(value, (int, float)):
            group = "val" if key.startswith("val_") else "train"
            writer.add_scalar(f"{group}/{key}", value, step)
    sample = trainer.run_dir / "samples" / f"step_{step:08d}.png"
    if sample.exists():
        import numpy as np
        from PIL import Image

        writer.add_image("samples", np.asarray(Image.open(sample).convert("RGB")), step, dataformats="HWC")


@hookimpl
def on_train_end(trainer, step: int, status: str) -> None:
    """Flush and close the writer."""
    writer = _writers.pop(id(trainer), None)
    if writer is not None:
        writer.close()
