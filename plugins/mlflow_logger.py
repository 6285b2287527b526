"""Experiment tracking with MLflow, switched on in a recipe::

    [plugins.mlflow]
    enabled = true
    tracking_uri = "sqlite:///mlflow.db"   # default: $MLFLOW_TRACKING_URI, else RUN_PARENT/mlflow.db
    experiment = "facades"                 # default: the recipe's name
    samples = true                         # log each sample grid as an artifact

Logs, through the training events any third-party plugin gets: the resolved recipe as
parameters (dotted keys), every logged loss, learning rate, images/s and validation metric
per step, each sample grid as an artifact (``samples/``), and at the end of the run
``eval.json``, ``eval.csv`` and ``report.html``; the MLflow run ends FINISHED, KILLED
(interrupted) or FAILED. A resumed run continues its MLflow run (its id is kept in the run
directory as ``mlflow_run_id``). The default store is a SQLite file beside the run
directories, so every run of a project appears in one ``mlflow ui --backend-store-uri``.

Needs ``pip install 'i2i-toolkit[mlflow]'``; without it a warning is printed once and
training goes on.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2i import hookimpl

OPTIONS = ("enabled", "tracking_uri", "experiment", "samples")
RUN_ID_FILE = "mlflow_run_id"
STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}
#: MLflow's limit on one parameter value.
PARAM_CHARS = 6000



@dataclass
class _Tracked:
    """An i2i run being tracked: its MLflow client, run id and options."""

    client: Any
    run_id: str
    samples: bool


_runs: dict[str, _Tracked] = {}  # by run directory


def _options(trainer) -> dict[str, Any]:
    options = dict(trainer.recipe.plugin_options("mlflow"))
    unknown = set(options) - set(OPTIONS)
    if unknown:
        print(f"i2i.mlflow: ignoring unknown options {sorted(unknown)}; accepted: {', '.join(OPTIONS)}",
              file=sys.stderr)
    return options


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested recipe tables as ``{"train.steps": "1500", ...}`` (values cut to MLflow's limit)."""
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:PARAM_CHARS]
    return out


def tracking_uri(options: dict[str, Any], run_dir: Path) -> str:
    """The store: the recipe's ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else a SQLite
    file beside the run directory."""
    default = f"sqlite:///{(run_dir.parent / 'mlflow.db').resolve().as_posix()}"
    return str(options.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or default)


@hookimpl
def on_train_start(trainer) -> None:
    """Open (or, on resume, reopen) the MLflow run and log the recipe as parameters."""
    options = _options(trainer)
    if not options.get("enabled", False):
        return
    try:
        from mlflow import MlflowClient
    except ImportError:
        print("i2i.mlflow: [plugins.mlflow] is enabled but mlflow is not installed "
              "(pip install 'i2i-toolkit[mlflow]'); continuing without it", file=sys.stderr)
        return
    run_dir = Path(trainer.run_dir)
    client = MlflowClient(tracking_uri=tracking_uri(options, run_dir))
    id_file = run_dir / RUN_ID_FILE
    if id_file.exists():
        run_id = id_file.read_text().strip()
        client.update_run(run_id, status="RUNNING")
    else:
        name = str(options.get("experiment") or trainer.recipe.stem)
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
        run_id = client.create_run(experiment_id, run_name=run_dir.name, tags={"i2i.run_dir": str(run_dir)}).info.run_id
        id_file.write_text(run_id)
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in flatten(trainer.recipe.as_dict()).items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 parameters per batch
            client.log_batch(run_id, params=params[start:start + 100])
    _runs[str(run_dir)] = _Tracked(client, run_id, bool(options.get("samples", True)))


@hookimpl
def on_step_end(trainer, step: int, logs: dict[str, float]) -> None:
    """Log this step's numbers and, when one was written, its sample grid."""
    run = _runs.get(str(trainer.run_dir))
    if run is None:
        return
    client, run_id = run.client, run.run_id
    if logs:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in logs.items()
                   if k not in ("step", "epoch") and isinstance(v, (int, float))]
        if metrics:
            client.log_batch(run_id, metrics=metrics)
    sample = Path(trainer.run_dir) / "samples" / f"step_{step:08d}.png"
    if run.samples and sample.exists():
        client.log_artifact(run_id, str(sample), artifact_path="samples")


@hookimpl
def on_run_end(run_dir: str, status: str) -> None:
    """Log the final evaluation and report, then end the MLflow run with the run's status."""
    run = _runs.pop(str(Path(run_dir)), None)
    if run is None:
        return
    client, run_id = run.client, run.run_id
    for name in ("eval.json", "eval.csv", "report.html"):
        path = Path(run_dir) / name
        if path.exists():
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, status=STATUS.get(status, "FAILED"))
