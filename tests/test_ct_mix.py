"""Real scans mixed with built-in phantoms: ``phantom_mix`` phantoms join the training split
and are never held out; held-out splits stay whole real volumes."""

from __future__ import annotations

from i2i.data.splits import split_datasets
from i2i.plugins import get_plugins
from i2i.recipe import load_recipe
from tests.dicom_fixtures import head_volume, write_series


def test_phantoms_join_only_the_training_split(tmp_path):
    for name in ("a", "b", "c"):
        write_series(tmp_path / name, head_volume(4, 64), predictor=None)
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
