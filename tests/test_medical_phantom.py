"""Random anatomical phantoms: reproducibility, sizes, fields of view, region mix, options."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from i2i.medical.phantom import (DEFAULT_FOV_MM, REGIONS, phantom_plan, phantom_scene, phantom_spacing, phantoms,
                                 random_phantoms, region_weights, render)
from i2i.medical.projector import circle_mask
from i2i.plugins import get_plugins


def source(name, **options):
    return get_plugins()["sources"].build(name, options, root=None)


def test_shape_range_and_air_outside_the_circle():
    x = phantoms(range(12), 64, seed=0)
    assert x.shape == (12, 1, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1000 and x.max() <= 2300
    assert (x[..., ~circle_mask(64)] == -1000).all()
    assert (x[..., 0, :] == -1000).all()  # air around the body


def test_each_sample_depends_only_on_seed_index_and_options():
    batch = phantoms([3, 4, 5], 48, seed=7)
    assert torch.equal(phantoms([4], 48, seed=7)[0], batch[1])
    assert torch.equal(phantoms([5, 3], 48, seed=7), batch[[2, 0]])
    assert not torch.equal(phantoms([4], 48, seed=8)[0], batch[1])
    assert not torch.equal(batch[0], batch[1])
    assert torch.equal(phantoms([3, 4, 5], 48, seed=7, regions=list(REGIONS)), batch)  # the default, spelt out
    heads = phantoms([3, 4, 5], 48, seed=7, regions=["head"])
    assert all(phantom_plan(7, i, ["head"])[0] == "head" for i in (3, 4, 5))
    for i, index in enumerate((3, 4, 5)):  # a phantom whose region stays keeps its anatomy
        same = phantom_plan(7, index)[0] == "head"
        assert torch.equal(heads[i], batch[i]) == same


def test_generator_draws_a_seed_without_touching_the_global_rng():
    state = torch.get_rng_state()
    a = random_phantoms(2, 32, generator=torch.Generator().manual_seed(1))
    b = random_phantoms(2, 32, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(random_phantoms(2, 32, seed=5), phantoms([0, 1], 32, seed=5))


@pytest.mark.parametrize("size", [16, 17, 45, 128, 600])
def test_any_size_keeps_the_body_in_the_circle(size):
    x = phantoms(range(4), size, seed=3)
    assert x.shape == (4, 1, size, size) and torch.isfinite(x).all()
    assert (x[..., ~circle_mask(size)] == -1000).all()
    assert (x > -500).flatten(1).float().mean(1).gt(0.1).all()  # a body in every slice


def test_anatomy_is_the_same_at_every_size():
    for region in REGIONS:
        small, large = phantoms([3], 32, seed=0, regions=[region]), phantoms([3], 256, seed=0, regions=[region])
        down = torch.nn.functional.avg_pool2d(large, 8)
        assert (down - small).abs().mean() < 40, region  # partial volume: the mean of the finer pixels


def test_default_fields_of_view_are_stated_and_overridable():
    assert DEFAULT_FOV_MM == {"head": 250.0, "thorax": 400.0, "abdomen": 400.0, "pelvis": 400.0}
    assert phantom_spacing(0, 0, 500, ["head"]) == (0.5, 0.5)
    assert phantom_spacing(0, 0, 100, ["pelvis"]) == (4.0, 4.0)
    assert phantom_spacing(0, 0, 100, ["pelvis"], fov_mm=350) == (3.5, 3.5)
    assert phantom_spacing(0, 0, 100, ["head"], fov_mm={"head": 220}) == (2.2, 2.2)
    assert phantom_spacing(0, 0, 100, ["thorax"], fov_mm={"head": 220}) == (4.0, 4.0)
    scene = phantom_scene(0, 0, ["head"], fov_mm=300)
    assert scene.fov == 300 and scene.region == "head"


def test_a_field_of_view_too_small_for_the_anatomy_shrinks_it_into_the_circle():
    for region in REGIONS:
        x = phantoms(range(3), 64, seed=1, regions=[region], fov_mm=150)
        assert (x[..., ~circle_mask(64)] == -1000).all(), region
        assert phantom_scene(1, 0, [region], fov_mm=150).reach() <= 0.94 * 75 + 1e-6


def test_the_dataset_reports_spacing_matching_fov_over_size():
    s = source("phantom", size=40, train_count=6, regions=["head", "abdomen"], fov_mm={"abdomen": 360})
    train = s.dataset("train")
    for i in range(6):
        sample = train[i]
        region, fov = phantom_plan(train.seed, i, ["head", "abdomen"], {"abdomen": 360})
        assert fov == (250.0 if region == "head" else 360.0)
        assert sample["spacing"].dtype == torch.float32
        assert torch.equal(sample["spacing"], torch.tensor([fov / 40, fov / 40]))
        assert train.spacing_of(i) == (fov / 40, fov / 40)


def test_every_region_appears_in_the_default_mix_in_about_equal_shares():
    counts = Counter(phantom_plan(0, i)[0] for i in range(800))
    assert set(counts) == set(REGIONS)
    assert all(160 <= counts[r] <= 240 for r in REGIONS), counts
    weighted = Counter(phantom_plan(0, i, {"head": 3, "thorax": 1})[0] for i in range(400))
    assert set(weighted) == {"head", "thorax"} and 260 <= weighted["head"] <= 340, weighted
    assert region_weights("pelvis") == {"pelvis": 1.0}
    assert region_weights({"head": 1, "pelvis": 0}) == {"head": 1.0, "pelvis": 0.0}


def test_a_region_mix_from_the_source_and_the_ct_fallback():
    heads = source("phantom", size=32, train_count=3, regions=["head"]).dataset("train")
    ct = get_plugins()["sources"].build("ct", {"phantom_size": 32, "phantom_train_count": 3,
                                               "phantom_regions": ["head"], "phantom_fov_mm": 250}, root=None)
    for i in range(3):
        assert torch.equal(heads[i]["target"], ct.dataset("train")[i]["target"])
        assert torch.equal(ct.dataset("train")[i]["spacing"], torch.tensor([250 / 32] * 2))


def test_bad_region_options_are_named_with_what_is_accepted():
    with pytest.raises(ValueError, match=r"unknown body region 'haed' \(did you mean 'head'\?\); accepted: "
                                         r"'abdomen', 'head', 'pelvis', 'thorax'"):
        region_weights(["haed"])
    with pytest.raises(ValueError, match="at least one region with a weight > 0"):
        region_weights({"head": 0})
    with pytest.raises(ValueError, match="region weights must be numbers >= 0, got head = -1"):
        region_weights({"head": -1})
    with pytest.raises(ValueError, match="field of view for unknown body region 'chest'"):
        source("phantom", fov_mm={"chest": 300})
    with pytest.raises(ValueError, match="field of view must be a number of mm > 0, got 0.0 for head"):
        source("phantom", fov_mm=0)
    with pytest.raises(ValueError, match="a region name, a list of names or a table"):
        region_weights(3)


def test_region_options_pass_the_recipe_check_and_bad_ones_fail_the_run(tmp_path, cli):
    ok = cli("recipe", "check", "recipes/medical_ct.toml", "--set", "source.phantom_regions={head = 2, thorax = 1}",
             "--set", "source.phantom_fov_mm=300")
    assert ok.exit_code == 0, ok.output
    for setting, message in (('phantom_regions=["haed"]', "unknown body region 'haed' (did you mean 'head'?)"),
                             ("phantom_regions={head = 0}", "at least one region with a weight > 0"),
                             ('phantom_fov_mm="big"', "the field of view must be a number of mm > 0, got 'big'")):
        result = cli("run", "recipes/medical_ct.toml", "--out", str(tmp_path / "run"), "--set", "train.steps=1",
                     "--set", f"source.{setting}")
        assert result.exit_code == 2
        assert "source: source 'ct'" in result.output and message in result.output, result.output


def test_render_rejects_tiny_sizes_and_scenes_are_size_independent():
    with pytest.raises(ValueError, match="phantom size must be >= 8 pixels, got 4"):
        phantoms([0], 4)
    a, b = phantom_scene(2, 9), phantom_scene(2, 9)
    assert a.region == b.region and len(a.items) == len(b.items)
    assert all((x.centre == y.centre).all() for x, y in zip(a.items, b.items) if hasattr(x, "centre"))
    hu, labels = render(a, 64, labels=True)
    assert hu.shape == labels.shape == (64, 64) and labels.dtype.name == "int16"
