"""The Python API: docs/python-api.md's example runs as written (train a few steps, load the
checkpoint, predict an array, evaluate), and ``import i2i`` stays light."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_the_documented_example_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/python-api.md has no python example"
    monkeypatch.chdir(tmp_path)  # the example writes runs/api-example here
    exec(compile("\n".join(blocks), "docs/python-api.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("completed 4 ")
    assert "eval.json" in out[1] and "report.html" in out[1]
    assert out[2] == "ct_sparse_view 4" and out[3] == "5.21-8.33 mm" and out[4] == "(96, 96) float32"
    assert out[5] == "True"  # make_input + predict equal predict(..., from_clean=True)
    assert re.match(r"PSNR \d+\.\d\d dB \(FBP input \d+\.\d\d dB\) on 4 phantoms", out[6]) and out[7] == "full"


def test_importing_i2i_loads_no_torch():
    code = "import sys, i2i; print('torch' in sys.modules, sorted(i2i.API))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout
    assert out.strip() == "False ['evaluate', 'load_model', 'make_input', 'predict', 'predict_files', 'train']"
