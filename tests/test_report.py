"""End of a run: held-out evaluation (eval.json) and report.html, rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_i2i

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium package)")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, request):
    from tests.conftest import TINY_RECIPE, data_path

    folder = tmp_path_factory.mktemp("report")
    recipe = folder / "tiny.toml"
    recipe.write_text(TINY_RECIPE.format(root=data_path("facades", "train").as_posix()))
    out = folder / "run"
    result = run_i2i("run", recipe, "--out", out, "--set", "data.test_fraction=0.05", "--set", "data.val_fraction=0.05",
                     "--set", "train.steps=6", "--set", "train.val_every=3", "--set", "train.final_eval_images=6")
    assert result.returncode == 0, result.stderr
    assert "evaluation on 6 test image(s)" in result.stderr and "report:" in result.stderr
    return out


def test_a_completed_run_writes_eval_json_and_report(finished_run):
    summary = json.loads((finished_run / "eval.json").read_text())
    assert summary["split"] == "test" and summary["images"] == 6 and summary["baseline"] is True
    assert {"psnr", "ssim", "mae", "ms_ssim"} <= set(summary["metrics"]["model"]) <= set(summary["metrics"]["input"])
    rows = (finished_run / "eval.csv").read_text().splitlines()
    assert len(rows) == 7 and "model_psnr" in rows[0] and "input_psnr" in rows[0]
    page = (finished_run / "report.html").read_text()
    assert 'id="metrics"' in page and 'id="model"' in page and "[generator]" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 5  # curves and sample grids
    assert "http://" not in page and "https://" not in page  # nothing fetched: opens offline


def test_report_rebuilds_and_renders_in_headless_chromium(finished_run, tmp_path, cli):
    browser = chromium()
    (finished_run / "report.html").unlink()
    result = cli("report", finished_run)
    assert result.exit_code == 0 and (finished_run / "report.html").exists()
    url = (finished_run / "report.html").as_uri()
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    total = int(re.search(r'data-images-total="(\d+)"', body.group(1)).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', body.group(1)).group(1))
    assert total >= 5 and loaded == total  # every embedded image decoded in the browser
    assert re.search(r'<table id="metrics">.*psnr.*input \(baseline\)', dom, re.S) or \
        re.search(r'<table id="metrics">.*input \(baseline\).*psnr', dom, re.S)
    shot = tmp_path / "report.png"
    subprocess.run([*common, "--window-size=1200,1600", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape == (1600, 1200)
    assert pixels.std() > 10  # not a blank page: text, tables and plots drawn


def test_report_without_evaluation_uses_the_last_validation(tmp_path, tiny_recipe, cli):
    from tests.conftest import train_in_process

    out = tmp_path / "run"
    train_in_process(tiny_recipe, out, "data.val_fraction=0.1", "train.val_every=2")
    page = (cli("report", out), (out / "report.html").read_text())[1]
    assert "Last validation pass, step 4" in page and "input (baseline)" in page
    bad = cli("report", tmp_path)
    assert bad.exit_code == 2 and "not a run directory" in bad.output
