"""``[source]`` is a component section like ``[generator]``; ``[schedule]`` and ``[optim]`` too.
Recipes in the old layout (the source and its options under ``[data]``, the flat
``[schedule]`` a run's recipe.toml wrote) load with one deprecation line into the same
recipe (same digest: runs made before still resume); ``data.root`` stays a silent alias."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from i2i.errors import RecipeError
from i2i.recipe import load_recipe
from tests.conftest import TINY_RECIPE, train_in_process

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))

NEW = '''
[task]
name = "paired"
[source]
name = "aligned"
direction = "BtoA"
[data]
load_size = 40
crop_size = 32
[train]
steps = 4
'''
OLD = '''
[task]
name = "paired"
[data]
source = "aligned"
direction = "BtoA"
load_size = 40
crop_size = 32
[train]
steps = 4
'''
#: The recipe.toml that i2i wrote for tests/conftest.py's tiny recipe before [source] (every
#: schedule key, the source in [data]); ROOT is replaced by the data folder.
OLD_RESOLVED = '''
[run]
seed = 0
out = "runs/{recipe}"
device = "auto"

[train]
steps = 4
batch_size = 2
log_every = 1
sample_every = 2
checkpoint_every = 2
keep_checkpoints = 3
precision = "auto"
channels_last = "auto"
compile = false
accumulate = 1
pool_size = 0
ema_start = 0
sync_batchnorm = false
eval_frame = "full"
final_eval = true

[optim]
name = "adam"
lr_g = 0.0002
lr_d = 0.0002
betas_g = [0.5, 0.999]
betas_d = [0.5, 0.999]
weight_decay = 0.0

[schedule]
name = "constant"
decay_start = 0.5
warmup_steps = 0
step_size = 10000
gamma = 0.1
metric = "val_mae"
factor = 0.2
patience = 5
threshold = 0.01
min_factor = 0.0

[data]
source = "aligned"
root = "ROOT"
preprocess = "resize_and_crop"
load_size = 40
crop_size = 32
patches_per_image = 1
num_workers = 0
on_error = "raise"
val_fraction = 0.0
test_fraction = 0.0
direction = "BtoA"

[augment]
flip = true
vflip = false
rot90 = false
geometric = []
photometric = []

[task]
name = "paired"
in_channels = 3
out_channels = 3
identity_baseline = true

[generator]
name = "unet"
depth = 6
ngf = 4
norm = "batch"
dropout = 0.5
upsample = "transposed"
activation = "tanh"
residual = false
init = "normal"
init_gain = 0.02

[discriminator]
name = "patchgan"
ndf = 4
n_layers = 2
norm = "batch"
spectral_norm = false
init = "normal"
init_gain = 0.02

[losses.gan]
name = "vanilla"
weight = 1.0
real_label = 1.0
fake_label = 0.0

[losses.l1]
name = "l1"
weight = 100.0
'''
#: Digests i2i gave the shipped recipes before [source] (commit 5846abf): checkpoints carry
#: them, and a resume compares them. medical_ct's changed on purpose since: the ct source
#: gained options that change its data (order, stored_values_as_hu, phantom_mix; head phantoms);
#: the CT recipes' again with the CT tasks' region option (task.region = "auto": which slices
#: the clinical-window metrics score), a task option, so it is in the resolved recipe. medical_ldct's
#: with its hu_range narrowed to the soft-tissue window (it learnt the identity on the 12-bit range), supervised.
#: medical_ct's and medical_ct_real's changed on purpose this round: 1/8 sampling, supervised, losses
#: and schedule chosen by measurement (their comments say what was measured); medical_ct_real's and
#: medical_ldct's again with longer schedules (6000 and 3000 steps), medical_ldct's with 4 patches a
#: slice and no EMA; both again with up-down mirrors and augment.test_time (the 4-pass average);
#: medical_ct_real's again with bf16 and 16000 steps.
DIGESTS = {"facades": "7849e86f100388d1", "medical_ct": "9b8316898ad58bf4", "mr_to_ct": "a42e044175acc501",
           "colorization": "743826c3b00e0b9e", "edges2shoes": "cda74b2262c5a0a1", "inpainting": "a68e1250bfaba92a",
           "maps": "cc83a39fbe9d2eac", "restoration": "70f351d899e8aa56",
           "medical_ct_real": "c79362d19490479f", "medical_ldct": "9c8d23adb3dfcde4"}  # new since
VARIANT_DIGESTS = {  # medical_ct with the optimiser or schedule changed on the command line
    ('optim.name="adamw"', "optim.weight_decay=0.01", "optim.lr_d=1e-4", "optim.betas_g=[0.9, 0.99]"):
        "76efab9d6d5348ab",
    ('schedule.name="plateau"', "schedule.patience=3"): "a81acc3d8cf04a2b",
    ('schedule.name="step"', "schedule.step_size=7", "schedule.gamma=0.5"): "3dc2975fceaf3ae0",
}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if "deprecated recipe layout" in line]


def test_old_layout_loads_with_one_note_into_the_same_recipe(tmp_path, capsys):
    new = load_recipe(write(tmp_path, "new.toml", NEW), ['data.root="/x"'])
    assert capsys.readouterr().err == ""
    old = load_recipe(write(tmp_path, "old.toml", OLD), ['data.root="/x"', "data.direction=\"AtoB\""])
    lines = notes(capsys.readouterr().err)
    assert lines == [f"i2i: warning: {tmp_path / 'old.toml'}: deprecated recipe layout, still read: data.source -> "
                     "source.name, data.direction -> source.direction (the data source and its options are the "
                     "[source] section now: [source] name = \"aligned\", direction = \"AtoB\")"]
    assert old.source.options["direction"] == "AtoB" and old.data_root == "/x"
    old = load_recipe(tmp_path / "old.toml", ['data.root="/x"'])
    assert old.as_dict() == new.as_dict() and old.digest() == new.digest()


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_shipped_recipes_keep_their_digest_and_take_data_root_silently(recipe, capsys):
    resolved = load_recipe(recipe, ['data.root="/data/here"'])
    assert capsys.readouterr().err == ""
    assert resolved.data_root == "/data/here" and resolved.as_dict()["source"]["root"] == "/data/here"
    assert "root" not in resolved.as_dict()["data"]
    assert resolved.digest() == DIGESTS[recipe.stem] == load_recipe(recipe).digest()


@pytest.mark.parametrize("sets", list(VARIANT_DIGESTS))
def test_component_changes_keep_options_the_new_component_takes(sets):
    recipe = load_recipe(ROOT / "recipes" / "medical_ct.toml", list(sets))
    assert recipe.digest() == VARIANT_DIGESTS[sets]
    if "adamw" in sets[0]:  # medical_ct's lr_g = 1e-3 survives the change of optimiser
        assert (recipe.optim.lr_g, recipe.optim.lr_d) == (1e-3, 1e-4)
        assert recipe.optim.for_network("g") == {"lr": 1e-3, "betas": [0.9, 0.99], "weight_decay": 0.01}
    else:  # and warmup_steps = 50 the change of schedule
        assert recipe.schedule.options["warmup_steps"] == 50


def test_optim_options_for_both_networks_or_one(tmp_path):
    path = write(tmp_path, "r.toml", NEW + '[optim]\nlr_g = 1e-3\nlr_d = 1e-4\nbetas = [0.9, 0.99]\nbetas_d = [0.5, 0.9]\n')
    r = load_recipe(path)
    assert (r.optim.lr_g, r.optim.lr_d) == (1e-3, 1e-4)
    assert (r.optim.options["betas_g"], r.optim.options["betas_d"]) == ((0.9, 0.99), (0.5, 0.9))
    r = load_recipe(path, ["optim.lr=5e-4"])  # a higher layer's lr is for both networks
    assert (r.optim.lr_g, r.optim.lr_d) == (5e-4, 5e-4)
    with pytest.raises(RecipeError, match=r"optim.lr_d: must be > 0, got -1 \(given with --set\)"):
        load_recipe(path, ["optim.lr_d=-1"])


def test_old_resolved_recipe_toml_resumes_without_losing_state(tmp_path, synthetic_pairs, capsys):
    new = write(tmp_path, "tiny.toml", TINY_RECIPE.format(root=synthetic_pairs.as_posix()))
    out = tmp_path / "run"
    train_in_process(new, out, "train.steps=2", "train.final_eval=false")
    old = out / "recipe.toml"
    old.write_text(OLD_RESOLVED.replace("ROOT", synthetic_pairs.as_posix()))
    capsys.readouterr()
    assert load_recipe(old).digest() == load_recipe(new).digest() == "affbe333b6ca01e2"
    assert len(notes(capsys.readouterr().err)) == 1
    trainer = train_in_process(old, out, resume=True)
    assert trainer.step == 4 and trainer.recipe.schedule.as_dict() == {"name": "constant", "warmup_steps": 0}
    assert "[source]" in (out / "recipe.toml").read_text()  # written back in the new layout


def test_checkpoints_with_an_old_layout_recipe_load_for_predict_and_eval(tmp_path, synthetic_pairs, capsys):
    from safetensors.torch import load_file, save_file

    from i2i.runs.checkpoint import latest_checkpoint, read_metadata
    from i2i.inference.model import load_model
    from i2i.recipe.layers import read_toml

    out = tmp_path / "run"
    train_in_process(write(tmp_path, "tiny.toml", TINY_RECIPE.format(root=synthetic_pairs.as_posix())), out,
                     "train.steps=2", "train.final_eval=false")
    weights = latest_checkpoint(out / "checkpoints") / "generator.safetensors"
    meta = read_metadata(weights)
    meta["recipe"] = json.dumps(read_toml(write(tmp_path, "old.toml", OLD_RESOLVED.replace("ROOT", "/gone"))))
    save_file(load_file(weights), weights, metadata=meta)
    capsys.readouterr()
    model = load_model(weights, overrides={"data": {"root": str(synthetic_pairs)}})
    assert model.recipe.source.name == "aligned" and model.recipe.data_root == str(synthetic_pairs)
    assert model.recipe.source.options["direction"] == "BtoA" and capsys.readouterr().err == ""


def test_problems_name_the_key_as_written(tmp_path):
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, "r.toml", NEW), ["data.directoin=AtoB", "source.directoin=AtoB", "data.root=5",
                                                      "schedule.decay_strat=0.3"])
    text = str(err.value)
    assert ("data.directoin: unknown key (did you mean 'source.direction'?); [data] accepts:" in text
            and "the data source's name, root and options go in [source]" in text)
    assert "source.directoin: source 'aligned' has no option 'directoin' (did you mean 'direction'?)" in text
    assert "data.root: expected a string, got 5 (given with --set)" in text
    assert ("schedule.decay_strat: schedule 'linear' has no option 'decay_strat' (did you mean 'decay_start'?); "
            "it accepts: 'decay_start', 'warmup_steps'") in text
    with pytest.raises(RecipeError, match=r"data.source: given as 'folder' and source.name as 'aligned'; keep "
                                          r"source.name"):
        load_recipe(write(tmp_path, "both.toml", NEW), ['data.source="folder"', 'source.name="aligned"'])


def test_flat_schedule_keys_the_schedule_ignores_are_named_once(tmp_path, capsys):
    path = write(tmp_path, "r.toml", NEW + '[schedule]\nname = "linear"\ngamma = 0.5\nstep_size = 10000\n')
    recipe = load_recipe(path)
    assert recipe.schedule.as_dict() == {"name": "linear", "decay_start": 0.5, "warmup_steps": 0}
    assert notes(capsys.readouterr().err)[0].endswith(
        "remove schedule.gamma (the chosen schedule does not take it; it had no effect)")


def test_a_run_of_an_old_layout_recipe_says_so_once(tmp_path, synthetic_pairs, cli):
    old = TINY_RECIPE.format(root=synthetic_pairs.as_posix()).replace(
        '[source]\nname = "aligned"\nroot', '[data]\nsource = "aligned"\nroot').replace("\n[data]\nload_size", "\nload_size")
    result = cli("run", write(tmp_path, "old.toml", old), "--out", tmp_path / "run", "--quiet",
                 "--set", "train.steps=2", "--set", "data.root=" + json.dumps(synthetic_pairs.as_posix()))
    assert result.exit_code == 0, result.output
    assert len(notes(result.output)) == 1 and "data.source -> source.name, data.direction" in notes(result.output)[0]
    assert '[source]\nname = "aligned"\ndirection = "BtoA"\nroot = ' in (tmp_path / "run" / "recipe.toml").read_text()
