"""The body region of each CT slice (head or trunk): from the recipe, the phantom, the DICOM
tags, or the body's size; carried per sample into the metrics."""

import numpy as np
import pytest
import torch

from dicom_fixtures import head_volume, write_series
from i2i.data.loader import collate_samples
from i2i.medical.regions import batch_regions, region_of_slice, region_of_tags, region_of_words
from i2i.plugins import get_plugins
from tests.conftest import data_path


@pytest.mark.parametrize("text, region", [
    ("HEAD", "head"), ("CT HEAD W/O CONTRAST", "head"), ("BRAIN", "head"), ("ABDOMENPELVIS", "trunk"),
    ("CHEST", "trunk"), ("Routine Abdomen/Pelvis w contrast", "trunk"), ("CT Body 3.0", "trunk"),
    ("HEADNECK", None), ("NECK", None), ("WHOLEBODY", None), ("HEAD CHEST", None), ("TK - glowy", None), ("", None)])
def test_region_words(text, region):
    assert region_of_words(text) == region


def test_body_part_wins_over_descriptions_and_an_unnamed_part_falls_through():
    assert region_of_tags("HEAD", ["CHEST CT"]) == "head"
    assert region_of_tags("", ["TK - glowy", "AXIAL BRAIN"]) == "head"
    assert region_of_tags("PARTIALBODY", ["", "CT Body 3.0"]) == "trunk"
    assert region_of_tags("", []) is None


def disc(diameter_mm: float, pixel_mm: float, size: int = 128) -> np.ndarray:
    r = np.hypot(*np.mgrid[:size, :size] - (size - 1) / 2) * pixel_mm
    return np.where(r < diameter_mm / 2, 40.0, -1000.0).astype(np.float32)


def test_region_by_body_area_in_mm():
    assert region_of_slice(disc(180, 2.0), (2.0, 2.0)) == "head"  # 25,400 mm²
    assert region_of_slice(disc(240, 2.5), (2.5, 2.5)) == "trunk"  # 45,200 mm²
    assert region_of_slice(disc(180, 2.0), (float("nan"),) * 2) == "unknown"  # no pixel size
    assert region_of_slice(disc(500, 1.0, 256), (1.0, 1.0)) == "trunk"  # cut off by the edge, yet larger than a head
    assert region_of_slice(disc(300, 1.0), (1.0, 1.0)) == "unknown"  # cut off (128 mm across), size unknown
    assert region_of_slice(np.full((8, 8), -1000.0), (1.0, 1.0)) == "unknown"


def test_batch_regions_recipe_then_sample_then_size():
    target = torch.from_numpy(np.stack([disc(180, 2.0), disc(240, 2.5)]))[:, None]
    samples = {"region": ["trunk", "unknown"], "spacing": torch.tensor([[2.0, 2.0], [2.5, 2.5]])}
    assert batch_regions(samples, target) == ["trunk", "trunk"]
    assert batch_regions(samples, target, forced="head") == ["head", "head"]
    assert batch_regions({}, target) == ["unknown", "unknown"]


def test_phantoms_say_what_they_drew():
    from i2i.medical.phantom import phantom_plan

    ds = get_plugins()["sources"].build("phantom", {"size": 32, "test_count": 12}).dataset("test")
    regions = collate_samples([ds[i] for i in range(12)])["region"]
    drawn = [phantom_plan(ds.seed, i)[0] for i in range(12)]
    assert regions == ["head" if r == "head" else "trunk" for r in drawn] and set(regions) == {"head", "trunk"}


def test_dicom_tags_name_the_region_per_series(tmp_path):
    hu = head_volume(2, 32)
    write_series(tmp_path / "a", hu, predictor=None, patient_id="A", series_uid="1.2.9.1")
    write_series(tmp_path / "b", hu, predictor=None, patient_id="B", series_uid="1.2.9.2", description="ABDOMEN")
    ds = get_plugins()["sources"].build("ct", {"root": str(tmp_path), "min_body_fraction": 0.0}).dataset("train")
    found = {ds[i]["path"].split("/")[-2]: ds[i]["region"] for i in range(len(ds))}
    assert found == {"a": "head", "b": "trunk"}  # "AXIAL HEAD", "ABDOMEN"; by size alone 16 mm slices are heads


def test_real_head_without_region_tags_is_a_head_by_its_size():
    root = data_path("ct", "head_cptac_gbm", "dicom_series")
    ds = get_plugins()["sources"].build("ct", {"root": str(root)}).dataset("train")
    assert ds.entries[40].volume.region is None  # StudyDescription "TK - glowy": Polish, no region word
    assert ds[40]["region"] == "head"
