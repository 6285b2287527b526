"""Experiment tracking with MLflow, switched on in a recipe::

    [plugins.mlflow]
    enabled = true
    tracking_uri = "sqlite:///mlflow.db"   # default: $MLFLOW_TRACKING_URI, else RUN_PARENT/mlflow.db
    experiment = "facades"                 # default: the recipe's name
    samples = true                         # log each sample grid as an artifact

Logs, through the training events any third-party plugin gets: the resolved recipe as
parameters (dotted keys) and ``recipe.toml``, every logged loss, learning rate, images/s and
validation metric per step, each sample grid as an artifact (``samples/``), and at the end
of ``i2i run`` (``on_run_end``) ``eval.json``, ``eval.csv`` and ``report.html``; the MLflow
run ends FINISHED, KILLED (interrupted) or FAILED. A resumed run continues its MLflow run
(its id is kept in the run directory as ``mlflow_run_id``; parameters logged before stay,
since MLflow never changes one, and the step it resumed at is tagged).

The default store is a SQLite file beside the run directories (``runs/mlflow.db``, artifacts
in ``runs/mlartifacts/``), so every run of a project appears in one
``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db``; MLflow 3 refuses its old
file store unless ``MLFLOW_ALLOW_FILE_STORE`` is set. A ``tracking_uri`` (a database or an
``http://`` tracking server) is used as given, with that server's artifact store.

Needs ``pip install 'i2i-toolkit[mlflow]'`` (mlflow-skinny, sqlalchemy, alembic); without it a
warning is printed once and training goes on.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2i import hookimpl

OPTIONS = ("enabled", "tracking_uri", "experiment", "samples")
RUN_ID_FILE = "mlflow_run_id"
STATUS = {"completed": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}
#: Files of the run directory logged when ``i2i run`` ends.
FINAL_ARTIFACTS = ("eval.json", "eval.csv", "report.html")
#: MLflow's limits: characters of one parameter value, parameters and metrics per batch.
PARAM_CHARS = 6000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
#: Log keys that are not metrics.
NOT_METRICS = ("step", "epoch")


@dataclass
class Tracked:
    """An i2i run being tracked: its MLflow client, run id and options."""

    client: Any
    run_id: str
    samples: bool


_runs: dict[str, Tracked] = {}  # by run directory
_warned_missing = False


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


def default_store(run_dir: Path) -> tuple[str, str]:
    """``(tracking URI, artifact location)`` of the store beside the run directory."""
    parent = run_dir.resolve().parent
    return f"sqlite:///{(parent / 'mlflow.db').as_posix()}", (parent / "mlartifacts").as_uri()


def tracking_uri(options: dict[str, Any], run_dir: Path) -> str:
    """The store: the recipe's ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else a SQLite
    file beside the run directory."""
    return str(options.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or default_store(run_dir)[0])


def _client():
    """``mlflow.MlflowClient``, or None (warning once) when mlflow is not installed."""
    global _warned_missing
    try:
        from mlflow import MlflowClient
    except ImportError:
        if not _warned_missing:
            print("i2i.mlflow: [plugins.mlflow] is enabled but mlflow is not installed "
                  "(pip install 'i2i-toolkit[mlflow]'); continuing without it", file=sys.stderr, flush=True)
            _warned_missing = True
        return None
    return MlflowClient


@hookimpl
def on_train_start(trainer) -> None:
    """Open (or, on resume, reopen) the MLflow run and log the recipe as parameters."""
    options = _options(trainer)
    if not options.get("enabled", False):
        return
    client_class = _client()
    if client_class is None:
        return
    run_dir = Path(trainer.run_dir)
    uri = tracking_uri(options, run_dir)
    client = client_class(tracking_uri=uri)
    id_file = run_dir / RUN_ID_FILE
    run_id = _continued_run(client, id_file.read_text().strip(), uri) if id_file.exists() else None
    if run_id is not None:
        client.set_tag(run_id, "i2i.resumed_at_step", str(trainer.step))
    else:
        run_id = _new_run(client, options, trainer, uri == default_store(run_dir)[0])
        id_file.write_text(run_id)
    _runs[str(run_dir)] = Tracked(client, run_id, bool(options.get("samples", True)))


def _continued_run(client, run_id: str, uri: str) -> str | None:
    """``run_id`` set running again, or None (saying so) when the store does not have it."""
    from mlflow.exceptions import MlflowException

    try:
        client.update_run(run_id, status="RUNNING")
    except MlflowException as exc:
        print(f"i2i.mlflow: the run's MLflow run {run_id} is not in {uri} ({exc.error_code}); starting a new one",
              file=sys.stderr, flush=True)
        return None
    return run_id


def _new_run(client, options: dict[str, Any], trainer, default: bool) -> str:
    """Create the MLflow run (and its experiment) and log the recipe."""
    from mlflow.entities import Param

    run_dir = Path(trainer.run_dir)
    name = str(options.get("experiment") or trainer.recipe.stem)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        location = default_store(run_dir)[1] if default else None
        experiment_id = client.create_experiment(name, artifact_location=location)
    run = client.create_run(experiment_id, run_name=run_dir.name, tags={"i2i.run_dir": str(run_dir.resolve())})
    params = [Param(k, v) for k, v in flatten(trainer.recipe.as_dict()).items()]
    for start in range(0, len(params), PARAMS_PER_BATCH):
        client.log_batch(run.info.run_id, params=params[start:start + PARAMS_PER_BATCH])
    if (run_dir / "recipe.toml").is_file():
        client.log_artifact(run.info.run_id, str(run_dir / "recipe.toml"))
    return run.info.run_id


@hookimpl
def on_step_end(trainer, step: int, logs: dict[str, float]) -> None:
    """Log this step's numbers and, when one was written, its sample grid."""
    run = _runs.get(str(trainer.run_dir))
    if run is None:
        return
    if logs:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in logs.items()
                   if k not in NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool)]
        for start in range(0, len(metrics), METRICS_PER_BATCH):
            run.client.log_batch(run.run_id, metrics=metrics[start:start + METRICS_PER_BATCH])
    if run.samples:  # one grid, or one per image when the sample images differ in size
        for sample in sorted((Path(trainer.run_dir) / "samples").glob(f"step_{step:08d}*.png")):
            run.client.log_artifact(run.run_id, str(sample), artifact_path="samples")


@hookimpl
def on_run_end(run_dir: str, status: str) -> None:
    """Log the final evaluation and report, then end the MLflow run with the run's status."""
    run = _runs.pop(str(run_dir), None)
    if run is None:
        return
    for name in FINAL_ARTIFACTS:
        path = Path(run_dir) / name
        if path.is_file():
            run.client.log_artifact(run.run_id, str(path))
    run.client.set_terminated(run.run_id, status=STATUS.get(status, "FAILED"))
