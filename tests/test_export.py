"""``i2i export``: ONNX (onnxruntime), TorchScript and safetensors match PyTorch at new sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.test_predict import make_checkpoint


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("export") / "run", cin=1, cout=2, depth=4)


def reference(run, x):
    from i2i.inference.model import load_model
    from i2i.nn.sizing import forward_any_size

    model = load_model(run, "cpu")
    with torch.no_grad():
        return forward_any_size(model.generator, x)


def test_onnx_runs_under_onnxruntime_at_any_size(run, tmp_path, cli):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "g.onnx"
    result = cli("export", run, "--format", "onnx", "--out", out)
    assert result.exit_code == 0, result.output
    assert "max abs difference" in result.output and out.exists()
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["in_channels"] == "1" and meta["out_channels"] == "2" and meta["size_divisor"] == "16"
    assert json.loads(meta["recipe"])["generator"]["name"] == "unet"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for shape in [(1, 1, 37, 91), (3, 1, 64, 48)]:  # sizes and batches the export never saw
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == (shape[0], 2, *shape[2:])
        assert np.abs(got - reference(run, x).numpy()).max() < 1e-4


def test_torchscript_and_safetensors_match(run, tmp_path, cli):
    ts = tmp_path / "g.pt"
    assert cli("export", run, "--format", "torchscript", "--out", ts).exit_code == 0
    extra = {"i2i.json": ""}
    loaded = torch.jit.load(str(ts), _extra_files=extra)
    assert json.loads(extra["i2i.json"])["task"] == "paired"
    x = torch.rand(2, 1, 50, 70) * 2 - 1
    assert (loaded(x) - reference(run, x)).abs().max() < 1e-4

    st = tmp_path / "g.safetensors"
    assert cli("export", run, "--format", "safetensors", "--out", st).exit_code == 0
    assert (reference(st, x) - reference(run, x)).abs().max() == 0  # the same weights, rebuilt from metadata


def test_a_mismatching_export_is_refused_and_not_written(run, tmp_path, monkeypatch):
    from i2i.errors import I2IError
    from i2i.inference import export
    from i2i.inference.model import load_model

    monkeypatch.setattr(export, "TOLERANCE", -1.0)  # nothing can pass
    with pytest.raises(I2IError, match="differs from PyTorch"):
        export.export_generator(load_model(run, "cpu"), "torchscript", tmp_path / "g.pt")
    assert list(tmp_path.iterdir()) == []
