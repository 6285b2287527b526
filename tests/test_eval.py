"""``i2i eval``: pairs built as in training, model and identity-baseline metrics checked
against direct computations, JSON + CSV, FID/KID/LPIPS from local weights only."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import train_in_process
from tests.test_predict import make_checkpoint, smooth_image

OFFSET = 10  # 8-bit levels between input and target in the second known pair


@pytest.fixture(scope="module")
def known_data(tmp_path_factory) -> Path:
    """Aligned A|B pairs (64 x 64 halves): test/0 input == target, test/1 target = input + 10
    levels, test/2 unrelated; train/ holds one pair (sources need a train split)."""
    root = tmp_path_factory.mktemp("known")
    for split in ("train", "test"):
        (root / split).mkdir()
    a = smooth_image(64, 64, seed=1).clamp(20, 230)
    pairs = [(a, a), (a, a + OFFSET), (smooth_image(64, 64, seed=2), smooth_image(64, 64, seed=3))]
    for i, (x, y) in enumerate(pairs):
        Image.fromarray(torch.cat([x, y], 2).permute(1, 2, 0).numpy()).save(root / "test" / f"{i}.png")
    Image.fromarray(torch.cat(pairs[2], 2).permute(1, 2, 0).numpy()).save(root / "train" / "0.png")
    return root


@pytest.fixture(scope="module")
def known_run(known_data, tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("run") / "run", root=known_data.as_posix(),
                           sets=('data.preprocess="none"',))


def direct(run: Path, data: Path) -> list[dict[str, float]]:
    """Each test pair's metrics computed here, without i2i's evaluation code (skimage)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from i2i.inference.model import load_model
    from i2i.nn.sizing import forward_any_size

    model = load_model(run)
    rows = []
    for i in range(3):
        ab = np.asarray(Image.open(data / "test" / f"{i}.png")).astype(np.float64) / 255
        x, y = ab[:, :64], ab[:, 64:]
        with torch.no_grad():
            net_in = torch.from_numpy(x).permute(2, 0, 1)[None].float() * 2 - 1
            out = ((forward_any_size(model.generator, net_in) + 1) / 2).clamp(0, 1)[0].permute(1, 2, 0).double().numpy()
        row = {}
        for who, image in (("model", out), ("input", x)):
            mse = ((image - y) ** 2).mean()
            row[f"{who}_mae"] = np.abs(image - y).mean()
            row[f"{who}_psnr"] = 100.0 if mse == 0 else peak_signal_noise_ratio(y, image, data_range=1.0)
            row[f"{who}_ssim"] = structural_similarity(y, image, data_range=1.0, channel_axis=2, gaussian_weights=True,
                                                       sigma=1.5, use_sample_covariance=False)
        rows.append(row)
    return rows


def test_eval_against_direct_computations(known_run, known_data, tmp_path, cli):
    out = tmp_path / "res" / "eval.json"
    result = cli("eval", known_run, "--out", out, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["split"] == "test" and summary["images"] == 3 and summary["baseline"] is True
    assert summary["weights"] == "generator.safetensors" and summary["step"] == 1
    with (tmp_path / "res" / "eval.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["path"]).name for r in rows] == ["0.png", "1.png", "2.png"]
    # the known pairs: identical images, and a uniform offset of 10 levels
    assert float(rows[0]["input_psnr"]) == 100.0  # i2i.image_metrics.PSNR_CAP
    assert float(rows[0]["input_ssim"]) == pytest.approx(1.0, abs=1e-6)
    assert float(rows[0]["input_ms_ssim"]) == pytest.approx(1.0, abs=1e-6)
    assert float(rows[0]["input_mae"]) == 0.0
    assert float(rows[1]["input_mae"]) == pytest.approx(OFFSET / 255, rel=1e-4)
    assert float(rows[1]["input_psnr"]) == pytest.approx(20 * math.log10(255 / OFFSET), abs=1e-3)
    # every image, model and baseline, against skimage
    for row, expected in zip(rows, direct(known_run, known_data)):
        for key, value in expected.items():
            tolerance = 1e-5 if key.endswith("ssim") else 1e-4 * max(1.0, abs(value))
            assert float(row[key]) == pytest.approx(value, abs=tolerance), key
    # the summary is the mean and (population) std of the rows
    for who in ("model", "input"):
        for name in ("mae", "psnr", "ssim", "ms_ssim"):
            values = np.array([float(r[f"{who}_{name}"]) for r in rows])
            stats = summary["metrics"][who][name]
            assert stats["mean"] == pytest.approx(values.mean(), rel=1e-5, abs=1e-6)
            assert stats["std"] == pytest.approx(values.std(), rel=1e-4, abs=1e-6)
    assert summary["higher_is_better"] == {"mae": False, "ms_ssim": True, "psnr": True, "ssim": True}


def test_eval_reproduces_training_validation(tiny_recipe, tmp_path, cli):
    """The pairs are those training validated on: eval's means equal the last validation's."""
    run = tmp_path / "run"
    train_in_process(tiny_recipe, run, "train.steps=2", "data.val_fraction=0.02", "train.ema_decay=0.9")
    result = cli("eval", run, "--batch-size", "4")
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "eval.json").read_text())  # the run directory's eval.json by default
    assert (run / "eval.csv").exists() and summary["split"] == "val" and summary["weights"] == "generator_ema.safetensors"
    last = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "val_ema_psnr" in line][-1]
    for name in ("mae", "psnr", "ssim"):
        assert summary["metrics"]["model"][name]["mean"] == pytest.approx(last[f"val_ema_{name}"], rel=1e-4)
        assert summary["metrics"]["input"][name]["mean"] == pytest.approx(last[f"val_input_{name}"], rel=1e-4)
    no_ema = cli("eval", run, "--no-ema", "--out", tmp_path / "raw.json", "--quiet")
    assert no_ema.exit_code == 0
    raw = json.loads((tmp_path / "raw.json").read_text())
    assert raw["metrics"]["model"]["psnr"]["mean"] == pytest.approx(last["val_psnr"], rel=1e-4)


def test_split_choice_and_errors(known_run, known_data, tmp_path, cli):
    result = cli("eval", known_run, "--split", "val", "--out", tmp_path / "e.json")
    assert result.exit_code == 2 and "'val'" in result.output and "'test'" in result.output
    only_train = tmp_path / "only"
    (only_train / "train" / "x").mkdir(parents=True)
    (only_train / "train" / "x" / "0.png").write_bytes((known_data / "train" / "0.png").read_bytes())
    result = cli("eval", known_run, "--data", only_train, "--out", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    assert "TRAINING images" in result.output
    summary = json.loads((tmp_path / "t.json").read_text())
    assert summary["split"] == "train" and summary["warnings"] and summary["data"] == str(only_train)


def test_data_may_be_a_split_folder_or_a_folder_of_pairs(known_run, known_data, tmp_path, cli):
    """Before: --data test/ evaluated its pairs as "training images" (the folder was taken as a
    source root with a train split only), and only the parent holding test/ worked."""
    by_parent = cli("eval", known_run, "--data", known_data, "--out", tmp_path / "parent.json")
    by_folder = cli("eval", known_run, "--data", known_data / "test", "--out", tmp_path / "folder.json")
    assert by_parent.exit_code == 0 and by_folder.exit_code == 0, by_folder.output
    assert "TRAINING" not in by_folder.output
    parent, folder = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("parent", "folder"))
    assert parent["split"] == "test" and folder["split"] == "all" and not folder["warnings"]
    assert folder["images"] == parent["images"] == 3
    assert folder["metrics"] == parent["metrics"]
    assert folder["protocol"]["frame"] == "full" and "every sample" in folder["protocol"]["split"]


def test_ms_ssim_matches_torchmetrics():
    tm = pytest.importorskip("torchmetrics.functional.image")
    from i2i.image_metrics import ms_ssim, ms_ssim_scales

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 192, 192, generator=g)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    expected = tm.multiscale_structural_similarity_index_measure(y, x, data_range=1.0, normalize="relu",
                                                                   reduction="none")
    assert torch.allclose(ms_ssim(x, y, 1.0), expected, atol=3e-3)
    assert torch.allclose(ms_ssim(x, x, 1.0), torch.ones(2))
    assert ms_ssim_scales(192, 192) == 5 and ms_ssim_scales(32, 40) == 2 and ms_ssim_scales(8, 8) == 0
    assert torch.isnan(ms_ssim(x[..., :8, :8], y[..., :8, :8], 1.0)).all()


def test_fid_kid_lpips_need_local_weights(known_run, tmp_path, cli):
    result = cli("eval", known_run, "--inception", tmp_path / "missing.pth", "--out", tmp_path / "e.json")
    assert result.exit_code == 2 and "missing.pth" in result.output and "never downloads" in result.output
    result = cli("eval", known_run, "--lpips", tmp_path / "nothere.pth", "--out", tmp_path / "e.json")
    assert result.exit_code == 2 and "nothere.pth" in result.output


class TinyFeatures(torch.nn.Module):
    """A cheap stand-in for Inception features (FID on 2048-d features costs minutes on CPU)."""

    num_features = 6

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, images):
        return torch.cat([images.mean((2, 3)), images.amax((2, 3))], 1).double()


def test_lpips_and_fid_from_local_weights(known_run, tmp_path, cli, monkeypatch):
    """LPIPS with a real (randomly initialised) torchvision AlexNet weights file; FID/KID
    through the CLI with the feature extractor replaced by a cheap one."""
    pytest.importorskip("torchmetrics")
    import torchvision
    from safetensors.torch import save_file

    from i2i.evaluation import perceptual

    torch.manual_seed(0)
    alex = torchvision.models.alexnet(weights=None)
    save_file({k: v.contiguous() for k, v in alex.state_dict().items() if k.startswith("features.")},
              tmp_path / "alexnet.safetensors")
    (tmp_path / "inception.pth").write_bytes(b"")
    monkeypatch.setattr(perceptual, "InceptionFeatures", TinyFeatures)
    out = tmp_path / "e.json"
    result = cli("eval", known_run, "--lpips", tmp_path / "alexnet.safetensors", "--inception",
                 tmp_path / "inception.pth", "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    rows = list(csv.DictReader((tmp_path / "e.csv").open()))
    assert float(rows[0]["input_lpips"]) == pytest.approx(0.0, abs=1e-6)  # identical images
    assert float(rows[2]["input_lpips"]) > 0
    assert summary["metrics"]["model"]["lpips"]["count"] == 3
    for who in ("model", "input"):
        values = summary["distribution"][who]
        assert set(values) == {"fid", "kid_mean", "kid_std"} and all(math.isfinite(v) for v in values.values())


def test_inception_features_from_a_local_file(tmp_path):
    import torchvision

    from i2i.errors import UsageError
    from i2i.evaluation.perceptual import InceptionFeatures

    torch.save(torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(),
               tmp_path / "inception.pth")
    features = InceptionFeatures(tmp_path / "inception.pth")
    assert features(torch.rand(1, 1, 40, 40)).shape == (1, 2048)
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(UsageError, match="not torchvision Inception-v3"):
        InceptionFeatures(tmp_path / "other.pth")


def test_distribution_metrics_of_identical_sets_are_zero():
    pytest.importorskip("torchmetrics")
    from i2i.evaluation.perceptual import DistributionMetrics

    images = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    metrics = DistributionMetrics(TinyFeatures(), ["same", "other"], torch.device("cpu"))
    metrics.update(images, {"same": images, "other": images * 0.5})
    result = metrics.compute()
    assert abs(result["same"]["fid"]) < 1e-4 and result["other"]["fid"] > 0.01
    assert result["other"]["kid_mean"] > result["same"]["kid_mean"]
