"""Experiment tracking with MLflow, switched on in a recipe::

    [plugins.mlflow]
    enabled = true
    tracking_uri = "sqlite:///mlflow.db"   # default: $MLFLOW_TRACKING_URI, else RUN_PARENT/mlflow.db
    experiment = "ct-sparse-view"          # default: the recipe's name (its file's stem)
    samples = true                         # log each sample grid as an artifact

Logs, through the training events any third-party plugin gets: the resolved recipe as
parameters (dotted keys) and ``recipe.toml``, every logged loss, learning rate, images/s and
validation metric per step, each sample grid as an artifact (``samples/``), and at the end
of ``i2i run`` (``on_run_end``) the final evaluation's means as metrics (``test_psnr``,
``test_input_psnr``... at the evaluated step) and ``eval.json``, ``eval.csv`` and
``report.html`` as artifacts; the MLflow run ends FINISHED, KILLED (interrupted) or FAILED.

The experiment is the recipe's name unless ``experiment`` is set: ``i2i run medical_ct`` and
a copy of it run as ``i2i run my_ct.toml`` land in two experiments (``medical_ct``,
``my_ct``), while ``--set`` variants of one file share one; set ``experiment`` in both to
compare them side by side. The logger says where it logs in one line when it starts.

A tracking store that cannot be used (an ``http://`` server that does not answer within
:data:`CONNECT_TIMEOUT` seconds, a read-only SQLite file) is found before the first step and
said in one line; training then goes on without tracking. Requests to a server are retried
:data:`HTTP_RETRIES` times with a :data:`HTTP_TIMEOUT` s timeout unless
``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``MLFLOW_HTTP_REQUEST_TIMEOUT`` are set (MLflow's
defaults stall minutes on a dead server). A resumed run continues its MLflow run
(its id is kept in the run directory as ``mlflow_run_id``; parameters logged before stay,
since MLflow never changes one, and the step it resumed at is tagged).

The default store is a SQLite file beside the run directories (``runs/mlflow.db``, artifacts
in ``runs/mlartifacts/``), so every run of a project appears in one
``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db``; MLflow 3 refuses its old
file store unless ``MLFLOW_ALLOW_FILE_STORE`` is set. A ``tracking_uri`` (a database or an
``http://`` tracking server) is used as given, with that server's artifact store.

Needs ``pip install 'i2i-toolkit[mlflow]'`` (mlflow-skinny, sqlalchemy, alembic); without it a
warning is printed once and training goes on. The web UI (``mlflow ui``) is in the full
``mlflow`` package, not in mlflow-skinny: ``pip install 'i2i-toolkit[mlflow-ui]'``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from i2i import atomic, hookimpl
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
#: Seconds a tracking server has to answer the check before the first step.
CONNECT_TIMEOUT = 5.0
#: MLflow's HTTP retries and request timeout (s) while the user has not set their own.
HTTP_RETRIES, HTTP_TIMEOUT = 2, 20


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


def store_problem(uri: str, timeout: float | None = None) -> str | None:
    """Why the tracking store ``uri`` cannot take this run's records, found in at most
    ``timeout`` seconds (default :data:`CONNECT_TIMEOUT`), or None when it looks usable: a
    server that does not answer its ``/health``, a SQLite file (or its folder) this process
    may not write."""
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
                return None
        except urllib.error.HTTPError as exc:
            return None if exc.code < 500 else f"it answers HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"no answer within {timeout:g} s ({reason})"
    if parts.scheme == "sqlite":
        path = Path(uri.removeprefix("sqlite:///"))
        folder = path.parent if path.exists() else next((p for p in path.parents if p.exists()), Path("."))
        for needed in ((path, folder) if path.exists() else (folder,)):
            if not os.access(needed, os.W_OK):
                return f"{needed} is read-only"
    return None


def bound_http_retries() -> None:
    """MLflow's HTTP client retries a dead server for minutes by default: bound it, unless the
    user set ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` / ``MLFLOW_HTTP_REQUEST_TIMEOUT``."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(HTTP_RETRIES))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(HTTP_TIMEOUT))


def final_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """An ``eval.json`` summary's means as MLflow metric names: ``SPLIT_NAME`` for the model
    (``test_psnr``) and ``SPLIT_input_NAME`` for the identity baseline."""
    split = str(summary.get("split") or "eval")
    out = {}
    for who, table in (summary.get("metrics") or {}).items():
        head = f"{split}_" if who == "model" else f"{split}_{who}_"
        out.update({head + name: float(stats["mean"]) for name, stats in table.items()
                    if isinstance(stats, dict) and isinstance(stats.get("mean"), (int, float))})
    return out


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
        experiment: the MLflow experiment; default the recipe's name (its file's stem), so
            copies of a recipe under other names land in other experiments: set it to group them.
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
        problem = store_problem(self.uri)
        if problem is not None:
            say(f"i2i.mlflow: the tracking store {self.uri} cannot be used ({problem}); training goes on without "
                "MLflow tracking")
            return
        bound_http_retries()
        self.client = client_class(tracking_uri=self.uri)
        id_file = self.run_dir / RUN_ID_FILE
        self.run_id = self._continued_run(id_file.read_text().strip()) if id_file.is_file() else None
        if self.run_id is not None:
            self.client.set_tag(self.run_id, "i2i.resumed_at_step", str(trainer.step))
        else:
            self.run_id = self._new_run(trainer)
            atomic.write_text(id_file, self.run_id)

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
        how = "plugins.mlflow.experiment" if self.experiment else \
            "the recipe's name; plugins.mlflow.experiment chooses another"
        say(f"i2i.mlflow: logging to experiment {name!r} ({how}) in {self.uri}")
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
        self._log_final_metrics()
        for name in FINAL_ARTIFACTS:
            path = self.run_dir / name
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, status=STATUS.get(status, "FAILED"))
        self.run_id = None


    def _log_final_metrics(self) -> None:
        """The final evaluation's means (``eval.json``) as metrics at the step it evaluated."""
        from mlflow.entities import Metric  # the optional mlflow extra

        try:
            summary = json.loads((self.run_dir / "eval.json").read_text())
        except (OSError, ValueError):
            return
        now, step = int(time.time() * 1000), int(summary.get("step") or 0)
        metrics = [Metric(k, v, now, step) for k, v in final_metrics(summary).items()]
        for start in range(0, len(metrics), METRICS_PER_BATCH):
            self.client.log_batch(self.run_id, metrics=metrics[start:start + METRICS_PER_BATCH])


@hookimpl
def register_loggers(register):
    """Register the MLflow logger."""
    register("mlflow", MLflowLogger)
