"""Each CT recipe's report shows held-out slices in the window a reader uses: heads in the brain
(and the bone) window, trunks in the soft-tissue window. A tiny run of each recipe renders it;
the test decodes the embedded images and checks their pixels against the labelled window."""

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from i2i.evaluation.evaluate import EvalOptions, eval_dataset
from i2i.evaluation.slices import crop_box, figure, pick
from i2i.inference.model import load_model
from i2i.medical.hu import apply_window, get_window, window_label
from i2i.plugins import get_plugins
from tests.conftest import ROOT, invoke_cli
from tests.dicom_fixtures import head_volume, write_series  # noqa: E402

WINDOWS = {"head": ["brain", "bone"], "trunk": ["soft_tissue"]}
TINY = ["--set", "generator.depth=3", "--set", "generator.ngf=4", "--set", "discriminator.ndf=4",
        "--set", "discriminator.n_layers=1", "--set", "train.steps=2", "--set", "train.batch_size=1",
        "--set", "train.val_every=2", "--set", "train.sample_every=2", "--set", "train.checkpoint_every=2",
        "--set", "train.log_every=1"]
#: Real-data recipes on a synthetic DICOM folder: two heads and two trunks (by their tags), one of each held out.
ON_SERIES = ["--set", "source.phantom_mix=0", "--set", "data.patch_size=16",
             "--set", 'data.test_groups=["headA", "trunkA"]', "--set", 'data.val_groups=["headB"]']
RECIPES = {"medical_ct": ["--set", "source.phantom_size=48", "--set", "source.phantom_train_count=4",
                          "--set", "source.phantom_val_count=2", "--set", "source.phantom_test_count=8"],
           "medical_ct_real": ON_SERIES, "medical_ldct": ON_SERIES}


def scans(root):
    """Four patients of three 48 px slices: HEAD and ABDOMEN descriptions."""
    trunk = head_volume(3, 48)
    trunk[trunk > 300] = 60.0  # soft tissue where the head had its skull
    for k, name in enumerate(["headA", "headB", "trunkA", "trunkB"]):
        hu, description = (head_volume(3, 48), "AXIAL HEAD") if name.startswith("head") else (trunk, "ABDOMEN")
        write_series(root / name, hu + 5 * k, predictor=None, patient_id=name, description=description,
                     study_uid=f"1.2.3.{k + 20}")
    return root


def test_pick_is_the_median_and_the_lower_quartile_per_region():
    rows = [{"index": i, "region": r, "model_psnr": v} for i, (r, v) in
            enumerate([("head", 30), ("trunk", 20), ("head", 10), ("head", 20), ("head", 40), ("trunk", None)])]
    assert pick(rows) == [(3, "median"), (2, "lower quartile"), (1, "median")]
    assert pick([{"index": 0, "model_psnr": 5.0}]) == [(0, "median")]


def test_the_figure_is_the_slices_above_their_zoomed_centres():
    panels = [torch_image(np.arange(36, dtype=np.float32).reshape(6, 6) / 35 * v) for v in (0.5, 0.8, 1.0)]
    image = figure(panels)
    top, left, h, w = crop_box(6, 6)
    assert image.shape == (6 + 4 + 6, 3 * 6 + 8, 3) and (top, left, h, w) == (2, 2, 2, 2)
    target = np.round(panels[2][0].numpy() * 255)
    assert np.array_equal(image[:6, 20:26, 0], target)
    assert np.array_equal(image[10:16, 20:26, 0], np.kron(target[2:4, 2:4], np.ones((3, 3))))


def torch_image(array):
    import torch

    return torch.from_numpy(array)[None]


@pytest.mark.slow
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_each_ct_recipe_reports_held_out_slices_in_their_windows(recipe, tmp_path):
    data = ["--set", f'data.root="{scans(tmp_path / "scans")}"'] if RECIPES[recipe] is ON_SERIES else []
    code, out = invoke_cli("run", ROOT / "recipes" / f"{recipe}.toml", "--out", tmp_path / "run", "--device", "cpu",
                           *TINY, *RECIPES[recipe], *data)
    assert code == 0, out
    index = json.loads((tmp_path / "run" / "eval_slices" / "slices.json").read_text())["slices"]
    assert {e["region"] for e in index} == {"head", "trunk"}
    for region, names in WINDOWS.items():
        shown = [(e["index"], e["view"]) for e in index if e["region"] == region]
        images = list(dict.fromkeys(i for i, _ in shown))  # in the order picked (median, then lower quartile)
        assert shown == [(i, window_label(name)) for i in images for name in names]
    page = (tmp_path / "run" / "report.html").read_text()
    figures = re.findall(r'<figure class="slices" data-view="([^"]+)" data-region="(\w+)"><img alt="[^"]*" '
                         r'src="data:image/png;base64,([^"]+)">', page)
    assert [(v.replace("&#x27;", "'"), r) for v, r, _ in figures] == [(e["view"], e["region"]) for e in index]
    assert "<h2>Held-out slices</h2>" in page and "brain_mae_hu" in page
    model = load_model(tmp_path / "run")
    dataset = eval_dataset(model, EvalOptions(held_out_only=True), get_plugins())[1]
    for entry, (view, _, data64) in zip(index, figures):
        png = np.asarray(Image.open(io.BytesIO(base64.b64decode(data64))).convert("L"), dtype=float)
        side = entry["size"][-1]
        assert png.shape == (2 * side + 4, 3 * side + 8)  # native resolution: one pixel per pixel
        shown = png[:side, 2 * (side + 4):2 * (side + 4) + side]
        target = model.task.clean(dataset[entry["index"]]["target"][None].float())
        for name in WINDOWS[entry["region"]] + ["soft_tissue" if entry["region"] == "head" else "brain"]:
            expected = np.round(apply_window(target, get_window(name))[0, 0].numpy() * 255)
            matches = np.abs(shown - expected).max() <= 1
            assert matches == (window_label(name) == entry["view"]), (entry, name)
