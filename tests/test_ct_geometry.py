"""The pixel size of real CT in training and fine-tuning (issue 21, items 4 and red-team 1):
source.pixel_size_mm resamples training slices as MONAI's Spacingd does; --init-from on data
outside the checkpoint's pixel range says so in one line; a slice without PixelSpacing has an
unknown pixel size (not 1 mm: never resampled, never recorded); resampling is bounded."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

pytest.importorskip("pydicom")

from i2i.runs.checkpoint import latest_checkpoint, read_metadata  # noqa: E402
from i2i.inference.pixel_size import ResamplingError, survey  # noqa: E402
from i2i.plugins import get_plugins  # noqa: E402
from tests.conftest import train_in_process  # noqa: E402
from tests.dicom_fixtures import head_volume, write_series  # noqa: E402
from tests.test_ct import TINY  # noqa: E402

SETS = (*TINY, "data.load_size=32", "data.crop_size=32", 'data.preprocess="none"')
PHANTOMS = ("train.steps=2", "train.batch_size=2", "source.phantom_size=32", "source.phantom_train_count=4",
            "source.phantom_val_count=2", "source.phantom_test_count=2", 'source.phantom_regions=["head"]',
            *TINY[:5])


def source(root, **options):
    return get_plugins()["sources"].build("ct", options, root=str(root))


def series(folder, spacing=0.5, slices=4, size=32, **header):
    write_series(folder, head_volume(slices, size), predictor=None, spacing=spacing, **header)
    return folder


def test_pixel_size_mm_resamples_training_slices_and_is_bounded(tmp_path):
    data = source(series(tmp_path / "fine"), pixel_size_mm=1.0).dataset("train")
    sample = data[1]
    assert sample["target"].shape == (1, 16, 16) and data.size_of(1) == (16, 16)
    assert data.spacing_of(1) == (1.0, 1.0) and torch.equal(sample["spacing"], torch.tensor([1.0, 1.0]))
    native = source(tmp_path / "fine").dataset("train")[1]["target"]
    expected = torch.nn.functional.interpolate(native[None], size=(16, 16), mode="bilinear", antialias=True)[0]
    torch.testing.assert_close(sample["target"], expected)
    with pytest.raises(ResamplingError, match=r"IM0001: an image of 32x32 pixels of 0.5 x 0.5 mm would be resampled "
                                              r"20x, to 2x2 pixels of 10 mm \(source.pixel_size_mm = 10\); i2i "
                                              r"resamples by at most 16x"):
        source(tmp_path / "fine", pixel_size_mm=10.0).dataset("train")


def test_missing_pixel_spacing_is_unknown_never_resampled_and_not_recorded(tmp_path, capsys):
    """Before: taken as 1 mm, recorded in the checkpoint as the model's pixel size."""
    folder = series(tmp_path / "scan", slices=6)
    for path in sorted(folder.iterdir()):
        ds = __import__("pydicom").dcmread(path)
        del ds.PixelSpacing
        ds.save_as(path)
    data = source(folder, pixel_size_mm=2.0).dataset("train")
    assert all(math.isnan(v) for v in data.spacing_of(0)) and data[0]["target"].shape == (1, 32, 32)
    assert "no PixelSpacing, so its pixel size is unknown" in capsys.readouterr().err
    assert survey(data) is None  # what a trainer records in its checkpoints as the model's pixel sizes
    assert survey(source(series(tmp_path / "known")).dataset("train")) == {"pixel_mm": [0.5, 0.5], "size_px": [32, 32]}


@pytest.mark.slow
def test_fine_tuning_on_another_pixel_size_says_so_and_pixel_size_mm_keeps_the_checkpoints(tmp_path, capsys):
    start = tmp_path / "phantoms"
    train_in_process("recipes/medical_ct.toml", start, *PHANTOMS)  # heads of 250 mm over 32 px: 7.81 mm pixels
    folder = series(tmp_path / "fine", spacing=7.8125 / 2)
    capsys.readouterr()
    train_in_process("recipes/medical_ct.toml", tmp_path / "tuned", f'data.root="{folder}"',
                     f'train.init_from="{start}"', *SETS)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("i2i: note: fine-tuning")]
    assert notes == ["i2i: note: fine-tuning: the checkpoint was trained at 7.81-7.81 mm pixels and this run's "
                     "training images have 3.91-3.91 mm: the model will learn their pixel size and record it; "
                     "source.pixel_size_mm = 7.81 trains at the checkpoint's"]
    trainer = train_in_process("recipes/medical_ct.toml", tmp_path / "kept", f'data.root="{folder}"',
                               f'train.init_from="{start}"', "source.pixel_size_mm=7.8125", *SETS)
    assert "fine-tuning: the checkpoint was trained at" not in capsys.readouterr().err
    assert trainer.geometry["pixel_mm"] == pytest.approx([7.8125, 7.8125], rel=0.02)


def test_a_pixel_size_of_zero_negative_or_nan_recorded_by_an_older_i2i_is_ignored():
    from i2i.inference.pixel_size import PixelRange

    for recorded in ([0, 1.0], [-1.0, 2.0], [float("nan"), 1.0], [2.0, 1.0], ["a", "b"]):
        assert PixelRange.from_metadata({"geometry": json.dumps({"pixel_mm": recorded})}) is None, recorded
    assert PixelRange.from_metadata({"geometry": json.dumps({"pixel_mm": [0.5, 2]})}) == PixelRange(0.5, 2.0)


def test_resampling_for_a_model_is_bounded(tmp_path, cli):
    """Before: 0.05 mm slices were resampled 64 -> 2 pixels for a model trained at 1.95 mm."""
    from safetensors.torch import load_file, save_file

    from tests.test_predict import make_checkpoint

    run = make_checkpoint(tmp_path / "run", cin=1, cout=1, depth=3, sets=('task.name="ct_sparse_view"',))
    weights = latest_checkpoint(run / "checkpoints") / "generator.safetensors"
    geometry = json.dumps({"pixel_mm": [1.95, 1.95]})
    save_file(load_file(weights), weights, {**read_metadata(weights), "geometry": geometry})
    hu = np.full((1, 64, 64), 40.0, dtype=np.float32)
    write_series(tmp_path / "micro", hu, predictor=None, spacing=0.05)
    result = cli("predict", run, tmp_path / "micro", "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "IM0001: an image of 64x64 pixels of 0.05 x 0.05 mm would be resampled 39x, to 2x2 pixels of 1.95 mm " \
           "(the model was trained at); i2i resamples by at most 16x" in result.output
    assert cli("predict", run, tmp_path / "micro", "--out", tmp_path / "native", "--native",
               "--device", "cpu").exit_code == 0
