"""Device-side geometry: one draw for input and target, types kept, recipe-named kornia ops."""

from __future__ import annotations

import pytest
import torch

from i2i.data.geometry import PairGeometry, random_crop, random_rot90
from i2i.data.pipeline import BatchPipeline
from i2i.errors import RecipeError
from i2i.recipe import load_recipe
from i2i.tasks import Task

GEOMETRIC = [{"name": "RandomAffine", "degrees": 20.0, "translate": [0.1, 0.1], "scale": [0.9, 1.1], "p": 1.0},
             {"name": "RandomElasticTransform", "p": 1.0},
             {"name": "RandomPerspective", "distortion_scale": 0.3, "p": 1.0}]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32, torch.float32])
def test_geometry_is_identical_for_input_and_target(dtype):
    torch.manual_seed(0)
    image = (torch.rand(8, 3, 48, 48) * 200).to(dtype)
    geometry = PairGeometry("crop", crop_size=32, flip=True, vflip=True, rot90=True, geometric=GEOMETRIC)
    out = geometry({"input": image, "target": image.clone(), "path": ["p"] * 8}, train=True)
    assert out["input"].shape == (8, 3, 32, 32) and out["input"].dtype == dtype
    assert torch.equal(out["input"], out["target"])
    assert not torch.equal(out["input"], image[..., :32, :32])  # something happened


def test_draws_differ_per_sample_and_between_calls():
    torch.manual_seed(0)
    image = torch.arange(16 * 16, dtype=torch.float32).view(1, 1, 16, 16).repeat(16, 1, 1, 1)
    crops = random_crop(image, 8)
    assert len({c.sum().item() for c in crops}) > 4
    rotated = random_rot90(image)
    assert len({r.flatten()[0].item() for r in rotated}) > 1


def test_random_crop_is_exact_indexing():
    torch.manual_seed(3)
    image = torch.randint(0, 65535, (4, 2, 20, 30), dtype=torch.int32)
    crop = random_crop(image, 10)
    for n in range(4):
        found = any(torch.equal(crop[n], image[n, :, t:t + 10, l:l + 10]) for t in range(11) for l in range(21))
        assert found


def test_evaluation_is_deterministic_center_crop():
    image = torch.rand(2, 1, 40, 40)
    geometry = PairGeometry("resize_and_crop", crop_size=32, flip=True, rot90=True, geometric=GEOMETRIC)
    a = geometry({"target": image}, train=False)["target"]
    assert torch.equal(a, image[..., 4:36, 4:36])


def test_photometric_changes_the_input_only():
    torch.manual_seed(0)
    r = load_recipe("recipes/facades.toml", ['augment.photometric=[{name = "ColorJitter", brightness = 0.5, '
                                              'contrast = 0.5, p = 1.0}]', "data.preprocess=\"none\"",
                                             "augment.flip=false"])
    pipeline = BatchPipeline.from_recipe(r, Task(3, 3), torch.device("cpu"))
    image = (torch.rand(2, 3, 16, 16) * 255).to(torch.uint8)
    x, y = pipeline({"input": image, "target": image.clone()}, train=True)
    assert torch.equal(y, image.float() / 255 * 2 - 1)
    assert not torch.allclose(x, y)
    x_eval, _ = pipeline({"input": image, "target": image.clone()}, train=False)
    assert torch.equal(x_eval, y)


def test_recipe_rejects_unknown_kornia_ops_and_options():
    with pytest.raises(RecipeError) as err:
        load_recipe("recipes/facades.toml", ['augment.geometric=[{name = "RandomAfine"}, '
                                             '{name = "RandomAffine", degree = 3}]',
                                             'augment.photometric=[{name = "RandomAffine", degrees = 3}]'])
    text = str(err.value)
    assert "augment.geometric[0].name: 'RandomAfine' is not a kornia geometric augmentation (did you mean " \
           "'RandomAffine'" in text
    assert "augment.geometric[1].degree: kornia's RandomAffine has no option 'degree' (did you mean 'degrees'?)" in text
    assert "augment.photometric[0].name: 'RandomAffine' is not a kornia photometric augmentation" in text


def test_recipe_reports_options_kornia_rejects():
    with pytest.raises(RecipeError, match=r"augment.geometric\[0\]: kornia's RandomAffine rejects these options"):
        load_recipe("recipes/facades.toml", ['augment.geometric=[{name = "RandomAffine", degrees = "lots"}]'])
