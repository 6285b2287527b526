"""The benchmark suite's smoke run (tiny networks, one repeat): the code stays working.
Its numbers mean nothing; real measurements are in BENCHMARKS.md."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys

import torch

from tests.conftest import ROOT


@pytest.mark.slow
def test_benchmark_suite_smoke_run(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run_all", "--quick", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ratio vs plain" in proc.stdout and "speed ratio" in proc.stdout
    steps = json.loads((tmp_path / "train_step.json").read_text())
    assert [r["batch"] for r in steps] == [1, 2]
    for r in steps:
        assert r["images_per_s"]["plain PyTorch"] > 0 and r["flops_per_image"] > 0
        assert all(v > 0 for v in r["ratio"].values())
    cases = json.loads((tmp_path / "inference.json").read_text())
    assert [c["i2i"]["side"] for c in cases] == [64, 300] and cases[1]["i2i"]["tiled"]
    if (tmp_path / "real_run.json").exists():  # facades present
        assert json.loads((tmp_path / "real_run.json").read_text())["ratio"] > 0


def test_kill_resume_quick_run_ends_bit_identical(tmp_path):
    # python -m benchmarks.kill_resume --quick   (the full check: 20 kills of a 400-step run)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.kill_resume", "--quick", "--work", str(tmp_path / "w"),
                           "--json", str(tmp_path / "kill.json")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "kill.json").read_text())
    assert result["identical"] and result["weights_identical"] and result["metrics_identical"]
    assert result["kills_landed"] >= 1 and result["tracebacks"] == 0 and not result["left_behind"]


def test_ct_step_quick_run_times_the_recipe_network_against_a_plain_loop(tmp_path):
    # python -m benchmarks.ct_step   (the real measurement: medical_ct_real's network, 5 repeats)
    from benchmarks import ct_step
    from i2i.engine.precision import native_bf16

    result = ct_step.main(["--quick", "--device", "cpu", "--json", str(tmp_path / "ct_step.json")])
    assert result["batch"] == 4 and result["patch"] == 32
    bf16_rows = {"i2i bf16", "i2i bf16 + channels_last"}
    expected = {"plain PyTorch fp32", "i2i fp32", "i2i fp32 + channels_last"} | (
        bf16_rows if native_bf16(torch.device("cpu")) else set())
    assert set(result["seconds_per_step"]) == expected  # bf16 rows exactly where bf16 is native
    assert set(json.loads((tmp_path / "ct_step.json").read_text())["speed_vs_plain"]) == expected
    assert all(s > 0 for s in result["seconds_per_step"].values())
