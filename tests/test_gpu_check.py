"""``python -m benchmarks.gpu_check`` on the CPU (CI): the resume check runs and is bit-exact,
every GPU part is skipped with its reason, and the JSON and Markdown results are written."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_gpu_check_runs_on_cpu_and_skips_the_gpu_parts(tmp_path, capsys):
    from benchmarks import gpu_check

    assert gpu_check.main(["--out", str(tmp_path), "--device", "cpu"]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["command"] == "python -m benchmarks.gpu_check" and report["device"] == "cpu"
    rows = {row["check"]: row for row in report["checks"]}
    assert rows["resume, defaults"]["status"] == "ok" and rows["resume, defaults"]["bit_exact"]
    skipped = [row for row in report["checks"] if row["status"] == "skipped"]
    assert len(skipped) == len(rows) - 1
    assert all(row["reason"].startswith("no CUDA device") for row in skipped)
    assert {"host syncs per step", "export on the GPU", "training step vs plain loop", "CT physics 512 x 512",
            "fp16 and bf16 steps", "compile", "resume, deterministic"} == {row["check"] for row in skipped}
    text = (tmp_path / "gpu_check.md").read_text()
    assert "| check" in text and "resume, defaults" in text and text in capsys.readouterr().out


def test_a_failing_check_is_reported_and_fails_the_command(tmp_path, monkeypatch):
    from benchmarks import gpu_check, gpu_parts

    def broken(*args, **kwargs):
        raise RuntimeError("the run broke")

    monkeypatch.setattr(gpu_parts, "resume", broken)
    assert gpu_check.main(["--out", str(tmp_path), "--device", "cpu"]) == 1
    row = next(r for r in json.loads((tmp_path / "gpu_check.json").read_text())["checks"]
               if r["check"] == "resume, defaults")
    assert row["status"] == "failed" and row["error"] == "RuntimeError: the run broke"
