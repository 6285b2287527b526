"""``i2i predict --pairs``: the recipe's pair files in, outputs and grids out; the outputs are
what ``i2i eval`` scores, so an independent script computing L1/PSNR/SSIM from them
reproduces eval.json (the pix2pix full-frame protocol); ``--train-mode`` normalises each
image on its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import data_path
from tests.test_predict import make_checkpoint


@pytest.fixture(scope="module")
def facades_split(tmp_path_factory) -> Path:
    """Five real facades pairs as a test split (and two as train), in the pix2pix layout."""
    facades = data_path("facades", "train")
    root = tmp_path_factory.mktemp("facades")
    for split, names in (("train", ("1", "2")), ("test", ("10", "11", "12", "13", "14"))):
        (root / split).mkdir()
        for name in names:
            (root / split / f"{name}.jpg").write_bytes((facades / f"{name}.jpg").read_bytes())
    return root


@pytest.fixture(scope="module")
def facades_run(facades_split, tmp_path_factory) -> Path:
    # the paper's preprocessing: resize to 286, random 256 crops; labels (right half) -> photo
    return make_checkpoint(tmp_path_factory.mktemp("frun") / "run", depth=6, root=facades_split.as_posix(),
                           sets=('source.direction="BtoA"', "data.load_size=286", "data.crop_size=256"))


def independent_scores(outputs: Path, pairs: Path) -> dict[str, float]:
    """Mean L1, PSNR and SSIM of predicted PNGs against the photo halves, with skimage only."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    scores = {"mae": [], "psnr": [], "ssim": []}
    for pair in sorted(pairs.glob("*.jpg")):
        ab = np.asarray(Image.open(pair)).astype(np.float64) / 255
        photo = ab[:, : ab.shape[1] // 2]
        out = np.asarray(Image.open(outputs / f"{pair.stem}.png")).astype(np.float64) / 255
        assert out.shape == photo.shape == (256, 256, 3)  # the full frame, not a crop of a 286 resize
        scores["mae"].append(np.abs(out - photo).mean())
        scores["psnr"].append(peak_signal_noise_ratio(photo, out, data_range=1.0))
        scores["ssim"].append(structural_similarity(photo, out, data_range=1.0, channel_axis=2, gaussian_weights=True,
                                                    sigma=1.5, use_sample_covariance=False))
    return {k: float(np.mean(v)) for k, v in scores.items()}


def test_eval_matches_an_independent_script_on_predict_outputs(facades_run, facades_split, tmp_path, cli):
    """Before: eval scored a 256 x 256 centre crop of the image resized to 286, so its numbers
    could not be compared with the reference's or a paper's."""
    result = cli("eval", facades_run, "--out", tmp_path / "eval.json", "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "eval.json").read_text())
    assert summary["split"] == "test" and summary["images"] == 5 and summary["protocol"]["frame"] == "full"
    out = tmp_path / "pred"
    result = cli("predict", facades_run, facades_split / "test", "--pairs", "--ext", "png", "--grid", "--out", out,
                 "--quiet")
    assert result.exit_code == 0, result.output
    mine = {k: summary["metrics"]["model"][k]["mean"] for k in ("mae", "psnr", "ssim")}
    theirs = independent_scores(out, facades_split / "test")
    for key in mine:
        assert mine[key] == pytest.approx(theirs[key], abs=1e-3), key
    grids = sorted((out / "grids").glob("*.png"))
    assert [g.stem for g in grids] == ["10", "11", "12", "13", "14"]
    assert Image.open(grids[0]).size == (3 * 256 + 2 * 4, 256)  # input | output | target


def test_crop_frame_is_the_documented_alternative(facades_run, tmp_path, cli):
    full = cli("eval", facades_run, "--out", tmp_path / "full.json", "--quiet")
    crop = cli("eval", facades_run, "--frame", "crop", "--out", tmp_path / "crop.json", "--quiet")
    assert full.exit_code == 0 and crop.exit_code == 0
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("full", "crop"))
    assert b["protocol"]["frame"] == "crop" and "centre 256 x 256" in b["protocol"]["scored"]
    assert a["metrics"]["model"]["psnr"]["mean"] != b["metrics"]["model"]["psnr"]["mean"]


def test_pairs_of_a_degrading_task_and_output_names(tmp_path, cli, synthetic_images):
    from tests.conftest import train_in_process

    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[task]\nname = "inpainting"\n[data]\nsource = "folder"\nroot = "{synthetic_images.as_posix()}"\n'
                      'load_size = 40\ncrop_size = 32\n[generator]\nname = "unet"\ndepth = 3\nngf = 4\n'
                      '[discriminator]\nname = "patchgan"\nndf = 4\nn_layers = 1\n[train]\nsteps = 1\n')
    run = tmp_path / "run"
    train_in_process(recipe, run)
    out = tmp_path / "out"
    result = cli("predict", run, synthetic_images, "--pairs", "--out", out, "--batch-size", "5", "--quiet")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == sorted(p.name for p in synthetic_images.glob("*.png"))
    first = np.asarray(Image.open(out / written[0]))
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    again = tmp_path / "again"
    assert cli("predict", run, synthetic_images, "--pairs", "--out", again, "--batch-size", "1", "--quiet").exit_code == 0
    for name in written:  # the same holes at any batch size
        assert np.array_equal(np.asarray(Image.open(out / name)), np.asarray(Image.open(again / name)))
    assert cli("predict", run, synthetic_images, "--grid", "--out", tmp_path / "x").exit_code == 2


def test_train_mode_normalises_each_image_on_its_own(tmp_path):
    """Before: --train-mode ran batch norm on whole batches, so an image's output depended on
    the other images of its batch."""
    from i2i.inference.model import load_model
    from i2i.inference.predict import PredictOptions, Predictor
    from tests.test_predict import smooth_image

    run = make_checkpoint(tmp_path / "run", depth=3)
    model = load_model(run)
    images = [smooth_image(32, 32, seed=s) for s in range(3)]
    alone = Predictor(model, PredictOptions(train_mode=True, batch_size=1)).predict(images[0])
    predictor = Predictor(model, PredictOptions(train_mode=True, batch_size=3))
    from i2i.data.formats import Decoded

    batched = [out for _, out in predictor.stream(Decoded(Path(f"{i}"), im) for i, im in enumerate(images))]
    torch.testing.assert_close(batched[0], alone, atol=1e-5, rtol=0)
