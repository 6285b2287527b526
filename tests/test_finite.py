"""NaN and infinity are named where they enter (issue 15, item 4): decoded data, predict
inputs (see also tests/test_bad_inputs.py), and eval metrics that come out n/a."""

from __future__ import annotations

import shutil

import pytest
import torch

from i2i.data.dataset import CheckedDataset
from i2i.data.imageio import DataError
from i2i.runs.checkpoint import read_metadata, read_tensors, save_safetensors
from i2i.finite import describe_nonfinite, nonfinite_weights
from tests.conftest import CT_RECIPE, TINY_CT, invoke_cli


class Volume:
    """Three decoded CT slices; the second holds NaN and infinity."""

    def __len__(self):
        return 3

    def __getitem__(self, i):
        image = torch.zeros(1, 8, 8)
        if i == 1:
            image[0, :2, :2] = float("nan")
            image[0, 7, 7] = float("inf")
        return {"target": image, "path": f"volume.nii.gz slice {i}"}


def test_decoded_non_finite_values_name_the_file_and_count():
    strict = CheckedDataset(Volume(), {"target": 1})
    with pytest.raises(DataError, match=r"volume.nii.gz slice 1: target holds 4 NaN and 1 infinite value\(s\) "
                                        r"\(of 64\); repair or mask them in the file, or set data.on_error"):
        strict[1]
    skipping = CheckedDataset(Volume(), {"target": 1}, on_error="skip")
    sample = skipping[1]
    assert sample["path"] == "volume.nii.gz slice 2" and "slice 1: target holds 4 NaN" in sample["skipped"][0]


def test_finite_helpers():
    assert describe_nonfinite(torch.arange(4)) is None and describe_nonfinite(torch.ones(3)) is None
    weights = {"generator": {"w": torch.tensor([1.0, float("nan")]), "n": torch.tensor([3])},
               "discriminator": {"w": torch.ones(2)}}
    assert nonfinite_weights(weights) == {"generator": 1}


def test_eval_warns_when_a_metric_is_n_a(tmp_path):
    # i2i eval RUN   on weights gone NaN: eval reported n/a without a warning
    code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", tmp_path / "run", "--quiet")
    assert code == 0, output
    source = tmp_path / "run" / "checkpoints" / "step_00000002"
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    tensors = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
               for k, v in read_tensors(source / "generator.safetensors").items()}
    save_safetensors(tensors, broken / "generator.safetensors", read_metadata(source / "generator.safetensors"))
    code, output = invoke_cli("eval", broken, "--out", tmp_path / "eval.json")
    assert code == 0 and "Traceback" not in output, output
    assert "warning: psnr of the model is n/a: its values are NaN or infinite" in output


def test_predict_and_export_refuse_non_finite_weights(tmp_path):
    # 3. predict used the NaN EMA weights of a run with train.ema_decay = nan by default
    code, output = invoke_cli("run", CT_RECIPE, *TINY_CT, "--out", tmp_path / "run", "--quiet",
                              "--set", "train.final_eval=false")
    assert code == 0, output
    weights = tmp_path / "run" / "checkpoints" / "step_00000002" / "generator.safetensors"
    tensors = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
               for k, v in read_tensors(weights).items()}
    save_safetensors(tensors, weights, read_metadata(weights))
    import numpy as np

    np.save(tmp_path / "slice.npy", np.zeros((1, 32, 32), dtype=np.float32))
    for args in (("predict", tmp_path / "run", tmp_path / "slice.npy", "--out", tmp_path / "out"),
                 ("export", tmp_path / "run", "--format", "safetensors", "--out", tmp_path / "g.safetensors")):
        code, output = invoke_cli(*args)
        assert code == 1 and "Traceback" not in output, output
        assert "generator.safetensors: " in output and "weight value(s) are NaN or infinite" in output
    assert not (tmp_path / "out").exists() and not (tmp_path / "g.safetensors").exists()
