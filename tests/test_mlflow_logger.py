"""The MLflow logger plugin (``plugins/mlflow_logger.py``): a tiny ``i2i run`` logs to a
temporary SQLite store and MLflow's own client reads back the parameters, per-step
metrics, sample grids, final evaluation and report; a resumed run continues its MLflow run;
without mlflow, training goes on with one warning.

The plugin is registered through the ``i2i`` entry-point group; where the installed
distribution does not offer it yet (a working tree newer than the editable install's
metadata), :func:`with_mlflow_plugin` adds it as the entry point would.
"""

from __future__ import annotations

import json
from pathlib import Path

import i2i_plugins.mlflow_logger as mlflow_logger
import pytest

from tests.plugin_fixtures import process_plugins

SETS = ("--set", "plugins.mlflow.enabled=true", "--set", "data.test_fraction=0.2", "--set", "train.log_every=1",
        "--set", "train.sample_every=2", "--quiet")


@pytest.fixture
def with_mlflow_plugin():
    """The process's plugins (``get_plugins()``) include ``i2i.mlflow``."""
    with process_plugins([("i2i.mlflow", mlflow_logger)]) as plugins:
        yield plugins


def only_run(store: Path, experiment: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store.as_posix()}")
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def artifacts(client, run_id: str, path: str | None = None) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id, path)}


def test_a_run_and_its_resumption_are_logged_to_one_mlflow_run(cli, tiny_recipe, tmp_path, with_mlflow_plugin):
    pytest.importorskip("mlflow", reason="mlflow is not installed")
    out = tmp_path / "runs" / "tiny"
    result = cli("run", tiny_recipe, "--out", out, "--set", "train.steps=2", *SETS)
    assert result.exit_code == 0, result.output
    client, run = only_run(tmp_path / "runs" / "mlflow.db", "tiny")
    assert (out / "mlflow_run_id").read_text() == run.info.run_id and run.info.status == "FINISHED"
    params = run.data.params
    assert params["train.steps"] == "2" and params["generator.name"] == "unet" and params["generator.ngf"] == "4"
    assert params["losses.l1.weight"] == "100.0" and params["plugins.mlflow.enabled"] == "True"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss_g")] == [1, 2]
    assert artifacts(client, run.info.run_id) == {"samples", "recipe.toml", "eval.json", "eval.csv", "report.html"}
    assert artifacts(client, run.info.run_id, "samples") == {"samples/step_00000002.png"}
    local = Path(client.download_artifacts(run.info.run_id, "eval.json", str(tmp_path)))
    assert local.read_bytes() == (out / "eval.json").read_bytes()
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(tmp_path / "runs" / "mlartifacts")
    # issue 21: the final test metrics are metrics, not only a file; where it logs is said
    summary = json.loads((out / "eval.json").read_text())
    final = client.get_metric_history(run.info.run_id, "test_psnr")
    assert [(m.step, m.value) for m in final] == [(2, pytest.approx(summary["metrics"]["model"]["psnr"]["mean"]))]
    assert client.get_metric_history(run.info.run_id, "test_input_ssim")
    assert "i2i.mlflow: logging to experiment 'tiny' (the recipe's name; plugins.mlflow.experiment chooses " \
           "another)" in result.output

    result = cli("run", "--resume", out, "--set", "train.steps=4", *SETS)
    assert result.exit_code == 0, result.output
    client, resumed = only_run(tmp_path / "runs" / "mlflow.db", "tiny")
    assert resumed.info.run_id == run.info.run_id and resumed.info.status == "FINISHED"
    assert resumed.data.tags["i2i.resumed_at_step"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss_g")] == [1, 2, 3, 4]
    assert artifacts(client, run.info.run_id, "samples") == {"samples/step_00000002.png", "samples/step_00000004.png"}
    local = Path(client.download_artifacts(run.info.run_id, "eval.json", str(tmp_path / "again")))
    assert json.loads(local.read_text()) == json.loads((out / "eval.json").read_text())


def test_without_mlflow_training_goes_on_with_one_warning(cli, tiny_recipe, tmp_path, with_mlflow_plugin,
                                                          monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "mlflow", None)  # `import mlflow` raises ImportError
    out = tmp_path / "runs" / "tiny"
    result = cli("run", tiny_recipe, "--out", out, "--set", "train.steps=2", *SETS)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("i2i.mlflow: [plugins.mlflow] is enabled but mlflow is not installed") == 1
    assert (out / "report.html").is_file() and not (out / "mlflow_run_id").exists()
    assert not (tmp_path / "runs" / "mlflow.db").exists()


def test_store_and_parameters_helpers(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = tmp_path / "runs" / "facades"
    assert mlflow_logger.MLflowLogger(run).uri == f"sqlite:///{(tmp_path / 'runs' / 'mlflow.db').as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert mlflow_logger.MLflowLogger(run).uri == "http://127.0.0.1:5000"
    assert mlflow_logger.MLflowLogger(run, tracking_uri="sqlite:///x.db").uri == "sqlite:///x.db"
    flat = mlflow_logger.flatten({"train": {"steps": 3}, "augment": {"geometric": [{"name": "RandomAffine"}]},
                                  "long": "x" * 7000})
    assert flat == {"train.steps": "3", "augment.geometric": "[{'name': 'RandomAffine'}]", "long": "x" * 6000}


class StubRecipe:
    """What the logger reads of a recipe."""

    stem = "stub"

    def plugin_options(self, name):
        return {"enabled": True}

    def as_dict(self):
        return {"train": {"steps": 3}}


def test_a_run_id_the_store_lacks_starts_a_new_mlflow_run(tmp_path, capfd):
    pytest.importorskip("mlflow", reason="mlflow is not installed")
    import types

    run_dir = tmp_path / "runs" / "stub"
    run_dir.mkdir(parents=True)
    (run_dir / "mlflow_run_id").write_text("0123456789abcdef")  # from another store
    logger = mlflow_logger.MLflowLogger(run_dir)
    logger.on_train_start(types.SimpleNamespace(recipe=StubRecipe(), run_dir=run_dir, step=2))
    assert "MLflow run 0123456789abcdef is not in sqlite:///" in capfd.readouterr().err
    logger.on_run_end(str(run_dir), "interrupted")
    client, run = only_run(tmp_path / "runs" / "mlflow.db", "stub")
    assert (run_dir / "mlflow_run_id").read_text() == run.info.run_id != "0123456789abcdef"
    assert run.info.status == "KILLED" and run.data.params == {"train.steps": "3"}


def test_a_dead_or_read_only_store_is_said_in_one_line_and_training_goes_on(cli, tiny_recipe, tmp_path,
                                                                              with_mlflow_plugin, monkeypatch):
    # red-team 11: a dead or read-only tracking store stalled 104-257 s before the first step, with raw warnings
    import socket
    import time

    pytest.importorskip("mlflow", reason="mlflow is not installed")
    monkeypatch.setattr(mlflow_logger, "CONNECT_TIMEOUT", 0.5)
    silent = socket.socket()  # accepts connections (in its backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    dead = f"http://127.0.0.1:{silent.getsockname()[1]}"
    start = time.monotonic()
    out = tmp_path / "dead"
    result = cli("run", tiny_recipe, "--out", out, "--set", "train.steps=2", "--set",
                 f'plugins.mlflow.tracking_uri="{dead}"', *SETS)
    silent.close()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - start < 60
    assert result.output.count(f"i2i.mlflow: the tracking store {dead} cannot be used (no answer within 0.5 s") == 1
    assert "training goes on without MLflow tracking" in result.output and "Traceback" not in result.output
    assert (out / "report.html").is_file() and not (out / "mlflow_run_id").exists()

    store = tmp_path / "ro" / "mlflow.db"
    store.parent.mkdir()
    real_access = mlflow_logger.os.access
    monkeypatch.setattr(mlflow_logger.os, "access", lambda p, mode: Path(p) != store.parent and real_access(p, mode))
    assert mlflow_logger.store_problem(f"sqlite:///{store.as_posix()}") == f"{store.parent} is read-only"
    assert mlflow_logger.store_problem(f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}") is None
