"""The run's own state: how far it got, its best checkpoint so far and its latest validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from i2i.metrics import MetricTable
from i2i.runs.checkpoint import step_dir_name


@dataclass
class RunState:
    """``step``: optimisation steps done; ``best``: the kept best checkpoint as
    ``{"step", "metric", "value", "folder"}`` (``checkpoints/best.json``), or None;
    ``last_validation``: the latest validation pass's mean metrics (the identity baseline's
    ``val_input_*`` are measured once and carried on)."""

    step: int = 0
    best: dict[str, Any] | None = None
    last_validation: dict[str, float] = field(default_factory=dict)

    def improves_best(self, metric: str | None, metrics: dict[str, float], table: MetricTable) -> bool:
        """Whether ``metrics`` hold a better ``metric`` (``train.best_metric``) than the best so
        far, in the direction the metric table gives."""
        if not metric or metric not in metrics:
            return False
        return self.best is None or table.better(metric, metrics[metric], self.best["value"])

    def record_best(self, metric: str) -> None:
        """The current step, with its ``metric`` from the latest validation, is the best so far."""
        self.best = {"step": self.step, "metric": metric, "value": self.last_validation[metric],
                     "folder": step_dir_name(self.step)}

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "best": self.best, "last_validation": dict(self.last_validation)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (checkpoints older than ``last_validation`` give none)."""
        self.step = int(state["step"])
        self.best = state.get("best")
        self.last_validation = {k: float(v) for k, v in (state.get("last_validation") or {}).items()}
