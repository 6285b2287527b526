"""``i2i export``: ONNX (onnxruntime), TorchScript and safetensors match PyTorch at new sizes;
data-unit graphs reproduce ``i2i predict`` on RGB (8 and 16 bits) and CT inputs."""

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
    result = cli("export", run, "--format", "onnx", "--io", "network", "--out", out)
    assert result.exit_code == 0, result.output
    assert "max abs difference" in result.output and out.exists()
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["in_channels"] == "1" and meta["out_channels"] == "2" and meta["size_divisor"] == "16"
    assert json.loads(meta["recipe"])["generator"]["name"] == "unet"
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    # sizes and batches the export never saw; red-team 10: 1 x 1, width-1 and height-3 images failed in
    # onnxruntime ("Pad reflect: pre-pad exceeds maximum") though predict handles them
    for shape in [(1, 1, 37, 91), (3, 1, 64, 48), (1, 1, 1, 1), (1, 1, 20, 1), (1, 1, 3, 40)]:
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == (shape[0], 2, *shape[2:])
        assert np.abs(got - reference(run, x).numpy()).max() < 1e-4


def test_torchscript_and_safetensors_match(run, tmp_path, cli):
    ts = tmp_path / "g.pt"
    assert cli("export", run, "--format", "torchscript", "--io", "network", "--out", ts).exit_code == 0
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
        export.export_generator(load_model(run, "cpu"), "torchscript", tmp_path / "g.pt", io="network")
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_to_overwrite_its_own_checkpoint(run, cli):
    weights = run / "checkpoints" / "step_00000001" / "generator.safetensors"
    before = weights.read_bytes()
    result = cli("export", weights, "--format", "safetensors", "--out", weights)
    assert result.exit_code == 2 and "would overwrite generator.safetensors of the checkpoint" in result.output
    assert weights.read_bytes() == before


@pytest.mark.parametrize("bits", [8, 16])
def test_onnx_in_data_units_reproduces_predict_on_rgb(tmp_path, cli, bits):
    """Before: the export took and returned the network range and left the task's
    normalisation to the user."""
    ort = pytest.importorskip("onnxruntime")
    from tests.test_predict import smooth_image

    run = make_checkpoint(tmp_path / "rgb", depth=4)
    image = smooth_image(45, 70, seed=3, dtype=torch.uint8 if bits == 8 else torch.int32)
    src = tmp_path / "in.png"
    out = tmp_path / "model.onnx"
    result = cli("export", run, "--format", "onnx", "--out", out, *(["--input-dtype", "uint16"] if bits == 16 else []))
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    feed = image.numpy()[None].astype(np.uint8 if bits == 8 else np.uint16)
    got = session.run(None, {"input": feed})[0]
    assert got.dtype == feed.dtype and got.shape == (1, 3, 45, 70)
    from i2i.data.formats import Decoded
    from i2i.data.image_formats import quantise
    from i2i.inference.model import load_model
    from i2i.inference.predict import Predictor

    predicted = Predictor(load_model(run)).stream([Decoded(src, image)])
    expected = quantise(next(iter(predicted))[1], bits).transpose(2, 0, 1)
    assert np.abs(got[0].astype(np.int64) - expected.astype(np.int64)).max() <= 1


def test_onnx_ct_model_reproduces_predict_in_hu(tmp_path, cli):
    """Before: from what the export said, a CT output differed from i2i predict by up to
    2093 HU (outside the field of view)."""
    ort = pytest.importorskip("onnxruntime")
    run = make_checkpoint(tmp_path / "ct", cin=1, cout=1, sets=('task.name="ct_sparse_view"',))
    slice_hu = (torch.rand(1, 1, 96, 96, generator=torch.Generator().manual_seed(0)) * 2500 - 1000).numpy()
    np.save(tmp_path / "slice.npy", slice_hu[0, 0])
    assert cli("predict", run, tmp_path / "slice.npy", "--out", tmp_path / "pred", "--quiet").exit_code == 0
    predicted = np.load(tmp_path / "pred" / "slice.npy")
    out = tmp_path / "ct.onnx"
    result = cli("export", run, "--format", "onnx", "--out", out)
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": slice_hu.astype(np.float32)})[0][0, 0]
    assert np.abs(got - predicted).max() < 0.5
    assert got[0, 0] == -1000.0  # air outside the field of view, as predict writes
    wide = slice_hu[..., 20:76, :]  # 56 x 96: the graph's field of view follows the shape
    np.save(tmp_path / "wide.npy", wide[0, 0])
    assert cli("predict", run, tmp_path / "wide.npy", "--out", tmp_path / "pred", "--quiet").exit_code == 0
    got = session.run(None, {"input": np.ascontiguousarray(wide, dtype=np.float32)})[0][0, 0]
    assert np.abs(got - np.load(tmp_path / "pred" / "wide.npy")).max() < 0.5
