"""Evaluation numbers do not depend on incidental settings: per-image rows are the same at
any batch size, and equal the run's own last validation on the same images.

Before: the evaluation generator was re-seeded per batch, so at batch 1 every image got the
same mask or noise (restoration: baseline PSNR 28.61 dB at batch 1 vs 26.77 dB at batch 4)
and a run's eval.json disagreed with its own validation."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from tests.conftest import train_in_process

TINY = ("train.steps=2", "train.batch_size=2", "train.checkpoint_every=2", "train.log_every=1",
        "train.sample_every=2", "generator.name=\"unet\"", "generator.depth=3", "generator.ngf=4",
        "discriminator.name=\"patchgan\"", "discriminator.ndf=4", "discriminator.n_layers=1",
        "data.val_fraction=0.5")
IMAGES = ("data.load_size=40", "data.crop_size=32", 'data.preprocess="resize_and_crop"')

TASKS = {
    "restoration": ('task.name="restoration"', 'task.degradations=["noise", "blur", "jpeg", "downsample"]', *IMAGES),
    "inpainting": ('task.name="inpainting"', 'task.mask="mixed"', *IMAGES),
    "colorization": ('task.name="colorization"', *IMAGES),
    "ct_low_dose": ('task.name="ct_low_dose"', "task.dose=[0.05, 0.5]", "task.electronic_noise=[0.0, 5.0]",
                    'source.name="ct"', "source.phantom_size=32", "source.phantom_train_count=4",
                    "source.phantom_val_count=7", "source.phantom_test_count=2", "data.val_fraction=0.0"),
}


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_eval_rows_do_not_depend_on_batch_size_and_equal_validation(task, tmp_path, cli, synthetic_images):
    recipe = tmp_path / "r.toml"
    source = "" if task == "ct_low_dose" else f'[data]\nsource = "folder"\nroot = "{synthetic_images.as_posix()}"\n'
    recipe.write_text(source)
    run = tmp_path / "run"
    train_in_process(recipe, run, *TINY, *TASKS[task])
    tables = {}
    for batch in (1, 3, 8):
        out = tmp_path / f"b{batch}.json"
        result = cli("eval", run, "--split", "val", "--no-ema", "--batch-size", batch, "--out", out, "--quiet")
        assert result.exit_code == 0, result.output
        tables[batch] = rows(out.with_suffix(".csv"))
    assert len(tables[1]) >= 6
    for batch in (3, 8):
        assert [r["path"] for r in tables[batch]] == [r["path"] for r in tables[1]]
        for a, b in zip(tables[1], tables[batch]):
            for key in a:
                if key in ("index", "path"):
                    continue
                if key == "region" or a[key] == "":  # CT: the slice's body region; "": a window not applicable
                    assert b[key] == a[key], (task, batch, key)
                else:
                    assert float(b[key]) == pytest.approx(float(a[key]), abs=1e-5), (task, batch, key)
    summary = json.loads((tmp_path / "b1.json").read_text())
    last = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "val_psnr" in line][-1]
    for who, prefix in (("model", "val_"), ("input", "val_input_")):
        for name, stats in summary["metrics"].get(who, {}).items():
            if stats["mean"] is None:  # a window applicable to none of these slices: no mean, NaN in validation
                assert stats["count"] == 0 and math.isnan(last[prefix + name]), (who, name)
                continue
            assert stats["mean"] == pytest.approx(last[prefix + name], rel=1e-5, abs=1e-6), (who, name)
    if task in ("restoration", "inpainting", "ct_low_dose"):  # the inputs differ from image to image
        assert "input" in summary["metrics"]
        assert len({r["input_psnr"] for r in tables[1]}) == len(tables[1])
