"""The TensorBoard logger, switched on in a recipe::

    [plugins.tensorboard]
    enabled = true
    log_dir = "tensorboard"     # inside the run directory (default)

Needs the ``tensorboard`` extra (``pip install 'i2i-toolkit[tensorboard]'``); without it a
warning is printed once and training goes on. Writes every logged loss, learning rate,
images/s, GAN health value and validation metric as scalars, and each sample grid as an image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from i2i import hookimpl
from i2i.loggers import Logger
from i2i.messages import say


class TensorBoardLogger(Logger):
    """Scalars and sample grids of one run in ``RUN/log_dir`` (TensorBoard's event files).

    Args:
        log_dir: the folder inside the run directory the event files go to.
    """

    def __init__(self, run_dir: Path, log_dir: str = "tensorboard"):
        self.folder = Path(run_dir) / log_dir
        self.writer: Any = None

    def on_train_start(self, trainer) -> None:
        """Open a SummaryWriter (a resumed run drops the events it logs again)."""
        try:
            from torch.utils.tensorboard import (
                SummaryWriter,  # the optional tensorboard extra
            )
        except ImportError:
            say("i2i.tensorboard: [plugins.tensorboard] is enabled but the tensorboard package is not installed "
                "(pip install 'i2i-toolkit[tensorboard]'); continuing without it")
            return
        self.writer = SummaryWriter(log_dir=str(self.folder), purge_step=trainer.step + 1 if trainer.step else None)

    def on_step_end(self, trainer, step: int, logs: dict[str, Any]) -> None:
        """Log this step's scalars (only logging steps carry any) and its sample grid."""
        if self.writer is None or not logs:
            return
        for key, value in logs.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)):
                group = "val" if key.startswith("val_") else "train"
                self.writer.add_scalar(f"{group}/{key}", value, step)
        sample = Path(trainer.run_dir) / "samples" / f"step_{step:08d}.png"
        if sample.exists():
            self.writer.add_image("samples", np.asarray(Image.open(sample).convert("RGB")), step, dataformats="HWC")

    def on_train_end(self, trainer, step: int, status: str) -> None:
        """Flush and close the writer."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@hookimpl
def register_loggers(register):
    """Register the TensorBoard logger."""
    register("tensorboard", TensorBoardLogger)
