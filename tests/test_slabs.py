"""Held-out slabs of a single volume or patient (issue 21, item 3 and red-team 5): by default
test and val in the middle of the stack with unused slices around them; data.slab_position
moves them, data.slab_count interleaves them with training slices; slices of two series at
one position stay on one side. Before: test was the last slices and val the first (a head's
vertex and skull base), the note was printed twice, and the slices of a patient's second
series were split by their order in the dataset, so test slices had copies in training."""

from __future__ import annotations

import pytest

from i2i.data.slabs import SlabLayout, slab_split

pytest.importorskip("pydicom")


def test_default_slabs_sit_in_the_middle_with_a_gap():
    slabs = slab_split([2.5 * k for k in range(40)], {"test": 0.1, "val": 0.1})
    assert slabs.held == {"test": list(range(16, 20)), "val": list(range(20, 24))}
    assert slabs.unused == [14, 15, 24, 25] and slabs.train == [*range(14), *range(26, 40)]
    assert slabs.description == ("test = slices 16-19 (40 to 47.5 mm), val = slices 20-23 (50 to 57.5 mm), "
                                 "train = slices 0-13 (0 to 32.5 mm), 26-39 (65 to 97.5 mm); 2 slices beside each "
                                 "held-out slab unused")


def test_slab_position_and_count_place_and_interleave_the_slabs():
    first = slab_split([None] * 20, {"test": 0.1}, SlabLayout(position=0.0, gap=1))
    assert first.held == {"test": [0, 1]} and first.unused == [2]
    spread = slab_split([None] * 40, {"test": 0.1, "val": 0.1}, SlabLayout(count=2, gap=1))
    assert spread.held == {"test": [8, 9, 28, 29], "val": [10, 11, 30, 31]}
    assert spread.unused == [7, 12, 27, 32]
    assert "test = slices 8-9, 28-29, val = slices 10-11, 30-31" in spread.description


def test_slices_of_two_series_at_one_position_stay_on_one_side():
    five = [5.0 * k for k in range(10)]
    half = [2.5 * k for k in range(20)]
    slabs = slab_split(five + half, {"test": 0.2})
    side = {}
    for name, indices in (("test", slabs.held["test"]), ("train", slabs.train), ("unused", slabs.unused)):
        for i in indices:
            side.setdefault((five + half)[i], set()).add(name)
    assert all(len(names) == 1 for names in side.values())
    assert {(five + half)[i] for i in slabs.held["test"]} == {20.0, 22.5, 25.0, 27.5}


def test_a_patients_two_series_split_without_copies_across_splits(tmp_path, capsys):
    from i2i.data.splits import split_datasets
    from i2i.plugins import get_plugins
    from i2i.recipe import load_recipe
    from tests.dicom_fixtures import head_volume, write_series

    hu = head_volume(12, 32)
    write_series(tmp_path / "thin", hu, predictor=None)  # 2.5 mm apart
    thick = write_series(tmp_path / "thick", hu[::2], predictor=None)
    for k, path in enumerate(thick):  # 5 mm apart over the same head
        ds = __import__("pydicom").dcmread(path)
        ds.ImagePositionPatient = [-64.0, -64.0, 5.0 * k]
        ds.save_as(path)
    recipe = load_recipe("recipes/medical_ct.toml", [f'data.root="{tmp_path}"', "data.val_fraction=0.15",
                                                     "data.test_fraction=0.15"])
    source = get_plugins()["sources"].build("ct", dict(recipe.source.options), root=str(tmp_path))
    splits = split_datasets(source, recipe.data, recipe.run.seed)
    whole = source.dataset("train")
    assert set(whole.groups) == {"thick"}  # one patient: one group, the first of its folders
    z = {name: {whole.positions[i] for i in split.indices} for name, split in splits.items()}
    assert z["test"] and z["val"] and not z["train"] & (z["test"] | z["val"])
    assert any(path.startswith("thick") for path in splits["test"].relative_paths)
    assert any(path.startswith("thin") for path in splits["test"].relative_paths)
    split_datasets(source, recipe.data, recipe.run.seed)  # the final evaluation splits again: no second note
    assert capsys.readouterr().err.count("left to split") == 1
