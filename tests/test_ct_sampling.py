"""Sampling and dose as fractions of a full scan: view counts by slice size, recipe errors, the
acquisition a task states, and inputs kept per sample by the data path (same numbers)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from i2i.data.input_cache import InputCache
from i2i.data.pipeline import BatchPipeline
from i2i.data.geometry import PairGeometry
from i2i.medical.sampling import full_view_count, parse_views, views_for
from i2i.plugins import get_plugins


def task(name, **options):
    return get_plugins()["tasks"].build(name, options)


def test_a_fraction_means_the_same_sampling_at_any_size():
    assert full_view_count(128) == 202 and full_view_count(512) == 806
    eighth = parse_views("1/8")
    assert eighth == Fraction(1, 8) == parse_views("0.125")
    assert views_for(eighth, 128) == 25 and views_for(eighth, 512) == 101  # 25.25 and 100.75, nearest
    assert views_for(parse_views("1/4"), 512) == 202 and views_for(parse_views("1"), 64) == full_view_count(64)
    assert views_for(parse_views("1/1000"), 32) == 2  # at least two views
    assert views_for(100, 512) == 100  # a count is a count
    assert parse_views(["1/16", "1/4"]) == (Fraction(1, 16), Fraction(1, 4))


@pytest.mark.parametrize("views", ['"0"', '"3/2"', '"1/0"', '"abc"', '"-1/8"', '["1/4", "1/8"]', '[8, "1/8"]'])
def test_invalid_fractions_are_a_recipe_error_naming_the_key(cli, views):
    result = cli("recipe", "check", "medical_ct", "--set", f"task.views={views}")
    assert result.exit_code == 2, result.output
    assert "task.views" in result.output and "Traceback" not in result.output
    if views.startswith('"'):
        assert 'fraction of a full scan in (0, 1], written "1/8" or "0.125"' in result.output


def test_sparse_view_at_a_fraction_uses_the_slice_size():
    t = task("ct_sparse_view", views="1/8")
    hu = torch.full((1, 1, 64, 64), -1000.0)
    hu[..., 16:48, 16:48] = 40.0
    x, _ = t.make_pair({"target": hu}, train=False)
    from i2i.medical.physics import sparse_view

    expected = sparse_view(t.clean(hu), views_for(Fraction(1, 8), 64))  # 13 views at 64 px
    torch.testing.assert_close(t.decode_input(x), expected.clamp_min(-1000), atol=1e-3, rtol=0)
    assert (t.decode_input(x) - sparse_view(t.clean(hu), 12).clamp_min(-1000)).abs().max() > 1
    described = t.acquisition([128, 512])
    assert described["views"] == "1/8" and described["views_at_size"] == {128: 25, 512: 101}
    assert described["description"] == ("a parallel-beam FBP (ramp filter) from 1/8 of full angular sampling "
                                        "(25 views at 128 px, 101 views at 512 px)")
    assert t.deterministic_input and not task("ct_sparse_view", views=["1/16", "1/8"]).deterministic_input


def test_low_dose_states_its_dose():
    t = task("ct_low_dose", dose="1/4")
    described = t.acquisition([512])
    assert described["dose"] == 0.25 and described["full_dose_I0"] > 0
    assert described["description"].startswith("0.25 of full dose (full: ")
    assert task("paired").acquisition() is None


def phantom_batch(size: int = 32, count: int = 3, split: str = "val") -> dict:
    data = get_plugins()["sources"].build("phantom", {"size": size}).dataset(split)
    samples = [data[i] for i in range(count)]
    return {"target": torch.stack([s["target"] for s in samples]), "path": [s["path"] for s in samples],
            "index": torch.arange(count)}


def test_kept_inputs_give_the_same_pairs_and_are_made_once():
    t = task("ct_sparse_view", views="1/4")
    batch = phantom_batch()
    plain = BatchPipeline(t, PairGeometry("none", flip=False), torch.device("cpu"))
    assert plain.inputs is not None  # the task's inputs are deterministic and nothing crops: kept
    calls = []
    make = t.make_input
    t.make_input = lambda b, train: calls.append(len(b["path"])) or make(b, train)
    first = plain(batch, train=False)
    again = plain({k: v[1:] for k, v in batch.items()}, train=False)  # a sub-batch: all kept
    assert calls == [3]
    torch.testing.assert_close(again[0], first[0][1:], rtol=0, atol=0)
    t.make_input = make
    uncached = t.make_pair({"target": batch["target"]}, train=False)
    torch.testing.assert_close(first[0], uncached[0], rtol=0, atol=0)
    torch.testing.assert_close(first[1], uncached[1], rtol=0, atol=0)
    cropping = BatchPipeline(t, PairGeometry("crop", crop_size=16), torch.device("cpu"))
    assert cropping.inputs is None  # physics on a crop differs from a crop of the physics
    assert BatchPipeline(task("ct_sparse_view", views=[4, 8]), PairGeometry("none"), torch.device("cpu")).inputs is None


def test_the_cache_keeps_inputs_up_to_its_budget():
    cache = InputCache(max_bytes=2 * 32 * 32 * 4)
    batch = phantom_batch(count=3)
    out = cache.fill(batch, lambda b: b["target"] + 1)
    assert len(cache) == 2 and cache.bytes == 2 * 32 * 32 * 4
    torch.testing.assert_close(out["input"], batch["target"] + 1)
    out = cache.fill(batch, lambda b: b["target"] + 2)  # the third is made again, the others are kept
    torch.testing.assert_close(out["input"][:2], batch["target"][:2] + 1)
    torch.testing.assert_close(out["input"][2], batch["target"][2] + 2)


@pytest.mark.slow
def test_the_checkpoint_records_the_acquisition(tmp_path):
    import json

    from i2i.runs.checkpoint import read_metadata
    from tests.conftest import train_in_process

    run = tmp_path / "run"
    train_in_process("recipes/medical_ct.toml", run, 'task.views="1/8"', "source.phantom_size=32",
                     "source.phantom_train_count=4", "source.phantom_val_count=2", "source.phantom_test_count=2",
                     "generator.depth=3", "generator.ngf=4", "discriminator.ndf=4", "train.steps=1",
                     "train.batch_size=2", "train.val_every=1", "train.checkpoint_every=1", "train.sample_every=1")
    meta = read_metadata(next(run.glob("checkpoints/step_*/generator.safetensors")))
    acquisition = json.loads(meta["acquisition"])
    assert acquisition["views"] == "1/8" and acquisition["views_at_size"] == {"32": 7}  # 52 / 8 = 6.5, halves up
    assert json.loads(meta["recipe"])["task"]["views"] == "1/8"
