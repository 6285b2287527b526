"""Real scans mixed with built-in phantoms: ``phantom_mix`` phantoms join the training split
and are never held out; held-out splits stay whole real volumes."""

from __future__ import annotations

import pytest

from i2i.data.splits import split_datasets
from i2i.plugins import get_plugins
from i2i.recipe import load_recipe
from tests.dicom_fixtures import head_volume, write_series


def test_phantoms_join_only_the_training_split(tmp_path):
    for name in ("a", "b", "c"):
        write_series(tmp_path / name, head_volume(4, 64), predictor=None, patient_id=name)
    recipe = load_recipe("recipes/medical_ct.toml", [f'data.root="{tmp_path}"', "data.phantom_mix=5",
                                                      "data.phantom_size=64", "data.val_fraction=0.34",
                                                      "data.test_fraction=0.0"])
    source = get_plugins()["sources"].build("ct", dict(recipe.source.options), root=str(tmp_path))
    splits = split_datasets(source, recipe.data, recipe.run.seed)
    train, val = splits["train"], splits["val"]
    assert len(train) == 8 + 5 and len(val) == 4
    paths = [train[i]["path"] for i in range(len(train))]
    assert sum(p.startswith("phantom") for p in paths) == 5
    assert not any(val[i]["path"].startswith("phantom") for i in range(len(val)))
    assert train.spacing_of(0) == (0.5, 0.5) and train.spacing_of(len(train) - 1)[0] in (250 / 64, 400 / 64)


def test_the_real_ct_recipe_trains_on_scans_and_phantoms_at_their_own_pixel_sizes(tmp_path):
    """recipes/medical_ct_real.toml as shipped but tiny: real series (0.5 mm) and phantoms
    (250 or 400 mm over 64 px) train together on patches; the checkpoint records both
    pixel sizes, so neither is resampled when predicted."""
    from tests.conftest import train_in_process

    for name in ("a", "b", "c"):
        write_series(tmp_path / "scans" / name, head_volume(4, 64), predictor=None, patient_id=name)
    trainer = train_in_process("recipes/medical_ct_real.toml", tmp_path / "run", f'source.root="{tmp_path / "scans"}"',
                               "source.phantom_mix=6", "source.phantom_size=64", "data.patch_size=32",
                               "data.val_fraction=0.34", "data.test_fraction=0.0", "data.test_groups=[]",
                               "data.val_groups=[]", "generator.ngf=4",
                               "discriminator.ndf=4", "train.steps=2", "train.val_every=2", "train.val_images=2",
                               "train.checkpoint_every=2", "train.sample_every=2", "train.log_every=1")
    assert trainer.recipe.task.options["views"] == "1/8" and trainer.recipe.data.patches_per_image == 1
    low, high = trainer.geometry["pixel_mm"]
    assert low == 0.5 and high in (250 / 64, 400 / 64) and trainer.geometry["size_px"] == [64, 64]


@pytest.mark.slow
def test_the_low_dose_recipe_trains_on_scans_and_phantoms_with_named_held_out_volumes(tmp_path):
    """recipes/medical_ldct.toml as shipped but tiny: quarter dose inserted into real series and
    phantoms (noise-free: all of the noise), held-out volumes named by data.test_groups /
    val_groups, evaluated on the named test volume."""
    from i2i import evaluate, load_model
    from tests.conftest import train_in_process

    for name in ("head", "abdomen", "other"):
        write_series(tmp_path / "scans" / name, head_volume(4, 64), predictor=None, patient_id=name)  # one patient each
    run = tmp_path / "run"
    trainer = train_in_process("recipes/medical_ldct.toml", run, f'source.root="{tmp_path / "scans"}"',
                               "source.phantom_mix=4", "source.phantom_size=64", "data.patch_size=32",
                               'data.test_groups=["head"]', 'data.val_groups=["abd*"]', "generator.ngf=4",
                               "train.steps=2", "train.val_every=2", "train.val_images=2",
                               "train.checkpoint_every=2", "train.sample_every=2", "train.log_every=1")
    assert trainer.recipe.task.options["dose"] == 0.25
    result = evaluate(load_model(run), split="test")
    assert result.summary["images"] == 4 and all("/head/" in row["path"] for row in result.rows)
    assert result.summary["metrics"]["input"]["psnr"]["mean"] < 60  # noise was inserted
