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
import time
from pathlib import Path
from typing import Any

from i2i import hookimpl
from i2i.loggers import Logger
from i2i.messages import say

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


def _client_class():
    """``mlflow.MlflowClient``, or None when mlflow is not installed (the optional extra)."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        return None
    return MlflowClient


class MLflowLogger(Logger):
    """One i2i run as one MLflow run (continued on ``--resume``).

    Args:
        tracking_uri: the MLflow store; default ``$MLFLOW_TRACKING_URI``, else a SQLite file beside
            the run directories (``runs/mlflow.db``).
        experiment: the MLflow experiment; default the recipe's name.
        samples: log each sample grid as an artifact.
    """

    def __init__(self, run_dir: Path, tracking_uri: str | None = None, experiment: str | None = None,
                 samples: bool = True):
        self.run_dir = Path(run_dir)
        self.uri = str(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_store(self.run_dir)[0])
        self.experiment, self.samples = experiment, samples
        self.client: Any = None
        self.run_id: str | None = None

    def on_train_start(self, trainer) -> None:
        """Open (or, on resume, reopen) the MLflow run and log the recipe as parameters."""
        client_class = _client_class()
        if client_class is None:
            say("i2i.mlflow: [plugins.mlflow] is enabled but mlflow is not installed "
                "(pip install 'i2i-toolkit[mlflow]'); continuing without it")
            return
        self.client = client_class(tracking_uri=self.uri)
        id_file = self.run_dir / RUN_ID_FILE
        self.run_id = self._continued_run(id_file.read_text().strip()) if id_file.exists() else None
        if self.run_id is not None:
            self.client.set_tag(self.run_id, "i2i.resumed_at_step", str(trainer.step))
        else:
            self.run_id = self._new_run(trainer)
            id_file.write_text(self.run_id)

    def _continued_run(self, run_id: str) -> str | None:
        """``run_id`` set running again, or None (saying so) when the store does not have it."""
        from mlflow.exceptions import MlflowException  # the optional mlflow extra

        try:
            self.client.update_run(run_id, status="RUNNING")
        except MlflowException as exc:
            say(f"i2i.mlflow: the run's MLflow run {run_id} is not in {self.uri} ({exc.error_code}); starting a "
                "new one")
            return None
        return run_id

    def _new_run(self, trainer) -> str:
        """Create the MLflow run (and its experiment) and log the recipe."""
        from mlflow.entities import Param  # the optional mlflow extra

        name = str(self.experiment or trainer.recipe.stem)
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            location = default_store(self.run_dir)[1] if self.uri == default_store(self.run_dir)[0] else None
            experiment_id = self.client.create_experiment(name, artifact_location=location)
        run = self.client.create_run(experiment_id, run_name=self.run_dir.name,
                                     tags={"i2i.run_dir": str(self.run_dir.resolve())})
        params = [Param(k, v) for k, v in flatten(trainer.recipe.as_dict()).items()]
        for start in range(0, len(params), PARAMS_PER_BATCH):
            self.client.log_batch(run.info.run_id, params=params[start:start + PARAMS_PER_BATCH])
        if (self.run_dir / "recipe.toml").is_file():
            self.client.log_artifact(run.info.run_id, str(self.run_dir / "recipe.toml"))
        return run.info.run_id

    def on_step_end(self, trainer, step: int, logs: dict[str, Any]) -> None:
        """Log this step's numbers and, when one was written, its sample grid."""
        if self.run_id is None:
            return
        if logs:
            from mlflow.entities import Metric  # the optional mlflow extra

            now = int(time.time() * 1000)
            metrics = [Metric(k, float(v), now, step) for k, v in logs.items()
                       if k not in NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool)]
            for start in range(0, len(metrics), METRICS_PER_BATCH):
                self.client.log_batch(self.run_id, metrics=metrics[start:start + METRICS_PER_BATCH])
        if self.samples:  # one grid, or one per image when the sample images differ in size
            for sample in sorted((self.run_dir / "samples").glob(f"step_{step:08d}*.png")):
                self.client.log_artifact(self.run_id, str(sample), artifact_path="samples")

    def on_run_end(self, run_dir: str, status: str) -> None:
        """Log the final evaluation and report, then end the MLflow run with the run's status."""
        if self.run_id is None:
            return
        for name in FINAL_ARTIFACTS:
            path = self.run_dir / name
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, status=STATUS.get(status, "FAILED"))
        self.run_id = None


@hookimpl
def register_loggers(register):
    """Register the MLflow logger."""
    register("mlflow", MLflowLogger)
