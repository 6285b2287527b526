"""``i2i show [KIND] NAME`` and ``i2i list-plugins --verbose``: options with types, defaults
and documentation, and each plugin's hooks, for built-in and third-party components."""

from __future__ import annotations

import types
from typing import Literal

from torch import nn

from i2i import hookimpl
from i2i.cli.component_docs import split_docstring
from tests.plugin_fixtures import process_plugins


def acme_net(in_channels: int, out_channels: int, width: int, mode: Literal["fast", "exact"] = "fast",
             scale: float | None = None) -> nn.Module:
    """ACME's tiny generator. Nothing more to say.

    Args:
        width: channels of the hidden layer; wider is slower
            and rarely better.
        mode: ``fast`` skips the refinement.

    The rest of the description comes after the options.
    """
    return nn.Conv2d(in_channels, out_channels, 1)


def acme_plugin() -> types.ModuleType:
    """A third-party plugin: one generator with documented options, and an event hook."""
    module = types.ModuleType("acme_plugin")
    module.__doc__ = "ACME's plugin."

    @hookimpl
    def register_generators(register):
        register("acme_net", acme_net)

    @hookimpl
    def on_step_end(trainer, step, logs):
        pass

    module.register_generators, module.on_step_end = register_generators, on_step_end
    return module


def test_show_a_builtin_generator(cli):
    result = cli("show", "generator", "unet")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "generator unet  (plugin i2i.generators 0.1.0, built in; i2i_plugins.generators.unet.unet)"
    assert "  U-Net generator: `depth` (>= 2) downsamplings" in result.output  # issue 21: literals kept
    assert 'options ([generator] name = "unet"):' in lines
    assert "  depth: an integer; default 8" in lines
    assert "  norm: one of 'batch', 'instance', 'group', 'none'; default \"batch\"" in lines
    assert "  residual: true or false; default false" in lines
    assert lines[-1] == "set by i2i: in_channels, out_channels"


def test_show_a_source_and_a_loss_say_how_a_recipe_picks_them(cli):
    source = cli("show", "aligned").output.splitlines()
    assert 'options ([source] name = "aligned"):' in source
    assert "  root: a string; required" in source
    assert "  direction: one of 'AtoB', 'BtoA'; default \"AtoB\"" in source and not any("set by i2i" in s for s in source)
    loss = cli("show", "loss", "l1").output
    assert 'options ([losses.LABEL] name = "l1"):' in loss and "  weight: a number; default 1.0" in loss


def test_show_a_builtin_plugin_with_its_hooks_and_documentation(cli):
    result = cli("show", "i2i.tensorboard")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("plugin i2i.tensorboard ") and "(module i2i_plugins.tensorboard)" in lines[0]
    assert lines[1] == "  hooks: register_loggers"
    assert lines[2].startswith("  logger tensorboard: Scalars and sample grids")
    logger = cli("show", "logger", "tensorboard").output.splitlines()
    assert 'options ([plugins.tensorboard] enabled = true):' in logger and "set by i2i: run_dir" in logger
    assert '  log_dir: a string; default "tensorboard"' in logger


def test_show_a_third_party_component_and_plugin(cli):
    with process_plugins([("acme", acme_plugin())]):
        component = cli("show", "acme_net")
        plugin = cli("show", "plugin", "acme")
    assert component.exit_code == 0, component.output
    lines = component.output.splitlines()
    assert lines[0] == f"generator acme_net  (plugin acme; {acme_net.__module__}.acme_net)"
    assert "  ACME's tiny generator. Nothing more to say." in lines and "Args:" not in component.output
    assert "  The rest of the description comes after the options." in lines
    assert lines[lines.index("  width: an integer; required") + 1] == (
        "      channels of the hidden layer; wider is slower and rarely better.")
    assert lines[lines.index("  mode: one of 'fast', 'exact'; default \"fast\"") + 1] == (
        "      `fast` skips the refinement.")
    assert "  scale: a number (or omitted); not set" in lines
    assert plugin.output.splitlines() == ["plugin acme  (module acme_plugin)", "  hooks: on_step_end, register_generators",
                                          "  generator acme_net: ACME's tiny generator."]


def test_list_plugins_verbose_shows_every_component_in_full(cli):
    with process_plugins([("acme", acme_plugin())]):
        result = cli("list-plugins", "--verbose")
    assert result.exit_code == 0
    out = result.output
    assert "plugin i2i.generators 0.1.0, built in  (module i2i_plugins.generators)\n  hooks: register_generators" in out
    assert "generator unet_256  (plugin i2i.generators" in out and "  ngf: an integer; default 64" in out
    assert "plugin acme  (module acme_plugin)\n  hooks: on_step_end, register_generators" in out
    assert "      channels of the hidden layer; wider is slower and rarely better." in out


def test_unknown_names_and_kinds_exit_2_with_close_matches(cli):
    unknown = cli("show", "unt")
    assert unknown.exit_code == 2
    assert "no component or plugin called 'unt' (did you mean 'unet'?)" in unknown.stderr
    kind = cli("show", "generatr", "unet")
    assert kind.exit_code == 2 and "unknown kind 'generatr' (did you mean 'generator'?)" in kind.stderr
    wrong_kind = cli("show", "discriminator", "unet")
    assert wrong_kind.exit_code == 2 and "unknown discriminator 'unet'" in wrong_kind.stderr
    assert "available: 'multiscale', 'patchgan', 'pixel'" in wrong_kind.stderr


def test_split_docstring_sections():
    text = "Summary.\n\nOptions:\n    a (int): first\n        continued\n    b: second\n\nAfter."
    assert split_docstring(text) == ("Summary.\n\nAfter.", {"a": "first continued", "b": "second"})


def test_show_an_optimizer_and_a_schedule_name_their_recipe_sections(cli):
    adam = cli("show", "optimizer", "adam")
    assert adam.exit_code == 0, adam.output
    lines = adam.output.splitlines()
    assert 'options ([optim] name = "adam"):' in lines and "  betas: a list of (a number >= 0 and < 1); default [0.5, 0.999]" in lines
    assert lines[-1] == "set by i2i: params"
    cosine = cli("show", "schedule", "cosine").output.splitlines()
    assert 'options ([schedule] name = "cosine"):' in cosine and cosine[-1] == "set by i2i: total_steps"


def test_core_sections_are_documented(cli):
    """Issue 21: `i2i show train|data|augment` failed: no command documented the core keys."""
    from i2i.recipe.schema import CORE_SECTIONS, section_keys

    for section in ("run", "train", "data", "augment"):
        result = cli("show", section)
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith(f"recipe section [{section}]")
        for name in section_keys(CORE_SECTIONS[section]):
            assert any(line.startswith(f"  {section}.{name}: ") for line in lines), (section, name)
    train = cli("show", "section", "train").output.splitlines()
    assert "  train.batch_size: an integer (>= 1); default 1" in train
    assert train[train.index("  train.batch_size: an integer (>= 1); default 1") + 1] == "      images per step"
    wrong = cli("show", "section", "trian")
    assert wrong.exit_code == 2 and "no core section 'trian' (did you mean 'train'?)" in wrong.output


def test_descriptions_are_not_cut_at_abbreviations():
    """Issue 21: list-plugins cut descriptions at "et al." and "e.g." and dropped ``literals``."""
    from i2i.registry import first_sentence, literals

    assert first_sentence("Least-squares GAN (Mao et al. 2017): squared error. More.") == \
        "Least-squares GAN (Mao et al. 2017): squared error."
    assert first_sentence("VGG weights (e.g. vgg19.pth): never downloaded. More.") == \
        "VGG weights (e.g. vgg19.pth): never downloaded."
    assert first_sentence("full, 1/2, 1/4... resolution. More") == "full, 1/2, 1/4... resolution."
    assert literals("between ``downsamplings`` downsamplings") == "between `downsamplings` downsamplings"


def test_piped_tables_keep_each_row_on_one_line(cli):
    """Issue 21: `i2i summary` wrapped one character per line when piped."""
    result = cli("summary", "medical_ct")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "│ generator " in line)
    assert "unet" in row and "size divisor 16" in row and "residual=True" in row
    listed = cli("list-plugins").output
    assert "Least-squares GAN (Mao et al. 2017): mean squared error to the labels; D's loss halved." in listed
