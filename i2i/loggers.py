"""The base class of loggers: components that record a run somewhere (TensorBoard, MLflow),
registered with the ``register_loggers`` hook and switched on by a recipe table::

    [plugins.tensorboard]
    enabled = true
    log_dir = "tensorboard"      # the logger factory's options, checked against its signature

A logger factory takes ``run_dir`` (supplied) and its options, and returns a :class:`Logger`;
one instance serves one run (rank 0 only), so it keeps its state on itself. The engine calls
the methods below at the training events of :mod:`i2i.hookspecs`; an exception is reported
naming the logger, which is then switched off for the run (training goes on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from i2i.hookspecs import TrainerView

#: The methods a logger may implement, in the order a run calls them.
LOGGER_EVENTS = ("on_train_start", "on_step_end", "on_validation_end", "on_checkpoint", "on_train_end",
                 "on_run_end")


class Logger:
    """A run's logger; every method does nothing unless overridden."""

    def on_train_start(self, trainer: TrainerView) -> None:
        """Before the first step (after a resume, before the first new step)."""

    def on_step_end(self, trainer: TrainerView, step: int, logs: dict[str, Any]) -> None:
        """After each step; ``logs`` holds the logged numbers on logging steps, else nothing."""

    def on_validation_end(self, trainer: TrainerView, step: int, metrics: dict[str, float]) -> None:
        """After a validation pass, with its mean metrics."""

    def on_checkpoint(self, trainer: TrainerView, step: int, path: str) -> None:
        """After a checkpoint folder was completely written."""

    def on_train_end(self, trainer: TrainerView, step: int, status: str) -> None:
        """When training stops: ``completed``, ``interrupted`` or ``failed``."""

    def on_run_end(self, run_dir: str, status: str) -> None:
        """The end of ``i2i run``, after ``eval.json``, ``eval.csv`` and ``report.html``."""

