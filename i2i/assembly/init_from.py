"""Fine-tuning: a new run's generator and discriminator start from trained weights.

``train.init_from`` (``i2i run RECIPE --init-from CHECKPOINT``) names either

- an i2i checkpoint: a run directory (its newest checkpoint), a checkpoint folder
  (``checkpoints/step_*/``) or one of its ``.safetensors`` files. The generator comes from
  ``generator.safetensors`` (the trained weights, not the EMA; give
  ``generator_ema.safetensors`` itself for those), the discriminator from
  ``discriminator.safetensors`` beside it; or
- a reference pytorch-CycleGAN-and-pix2pix checkpoint: ``latest_net_G.pth`` (or
  ``EPOCH_net_G.pth``, or the folder holding it), with ``*_net_D.pth`` beside it when there
  is one. It is read only with ``torch.load(..., weights_only=True)``: nothing is unpickled.
  i2i's ``unet_256``, ``unet_128``, ``resnet_*blocks`` and ``patchgan`` have the reference's
  module tree, so keys match; a ``module.`` prefix, legacy InstanceNorm statistics and
  layer indices shifted by dropout layers are mapped.

The recipe may differ from the checkpoint's (data, losses, learning rates, task options)
as long as the networks have the same tensors; each tensor that does not fit is named.
Optimisers, schedule, EMA and step start fresh. A network the checkpoint lacks (a reference
model published without its discriminator) starts from its initialisation, which is said.
A resumed run takes its weights from its own checkpoint and does not read the source again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from i2i.errors import UsageError
from i2i.finite import nonfinite_weights
from i2i.messages import say
from i2i.nn.weights import load_state_file
from i2i.recipe import Recipe
from i2i.runs.checkpoint import read_metadata, read_tensors, resolve_checkpoint

KEY = "train.init_from"
REFERENCE_SUFFIXES = (".pth", ".pt")
REFERENCE_G = re.compile(r"^(?P<prefix>.*)_net_G(?P<suffix>\.pth?)$")
REFERENCE_D = re.compile(r"^(?P<prefix>.*)_net_D(?P<suffix>\.pth?)$")
#: Norm statistics a reference file may hold for layers that keep none here (InstanceNorm
#: saved by PyTorch < 0.4, which the reference's own loader deletes too).
NORM_STATISTICS = (".running_mean", ".running_var", ".num_batches_tracked")
SHOWN = 12


class InitFromError(UsageError):
    """``train.init_from`` names weights that cannot start this recipe's networks."""


@dataclass(frozen=True)
class InitSource:
    """Where a run's starting weights came from (recorded in its weights' metadata)."""

    given: str
    layout: Literal["i2i", "reference"] | None = None
    generator: Path | None = None
    discriminator: Path | None = None
    step: int | None = None

    def metadata(self) -> dict[str, str]:
        """The ``init_from`` entry of a weights file's metadata header (JSON)."""
        record = {"given": self.given, "layout": self.layout, "step": self.step,
                  "generator": str(self.generator.resolve()) if self.generator else None,
                  "discriminator": str(self.discriminator.resolve()) if self.discriminator else None}
        return {"init_from": json.dumps(record)}


def init_metadata(source: InitSource | None) -> dict[str, str]:
    """:meth:`InitSource.metadata`, or nothing for a run trained from scratch."""
    return source.metadata() if source is not None else {}


def start_from(recipe: Recipe, generator: nn.Module, discriminator: nn.Module | None, *, load: bool = True,
               announce: bool = True) -> InitSource | None:
    """Load the weights ``recipe.train.init_from`` names into the freshly built networks
    (see the module doc); ``load=False`` (a resumed run) only records where they came from.
    Returns the source, or None for a run trained from scratch."""
    spec = recipe.train.init_from
    if spec is None:
        return None
    if not load:
        return InitSource(given=spec)
    source = locate(spec)
    load_network(generator, source.generator, "generator", source.layout, recipe.generator.as_dict())
    if discriminator is not None and recipe.discriminator is not None and source.discriminator is not None:
        load_network(discriminator, source.discriminator, "discriminator", source.layout,
                     recipe.discriminator.as_dict())
    if announce:
        say(f"i2i: fine-tuning: {describe(source, discriminator is not None)}; optimisers and schedule start "
            "at step 0")
    return source


def describe(source: InitSource, has_discriminator: bool) -> str:
    """One line: which file each network starts from."""
    step = f" (step {source.step})" if source.step is not None else ""
    parts = [f"generator from {source.generator}{step}"]
    if has_discriminator and source.discriminator is not None:
        parts.append(f"discriminator from {source.discriminator}")
    elif has_discriminator:
        parts.append("the discriminator starts from its initialisation (the checkpoint has none)")
    elif source.discriminator is not None:
        parts.append("the checkpoint's discriminator is not used (this recipe has none)")
    return ", ".join(parts)


# ---- finding the files ---------------------------------------------------------------------


def locate(spec: str) -> InitSource:
    """The generator (and discriminator) files ``spec`` names."""
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "latest_net_G.pth").is_file():
        path = path / "latest_net_G.pth"
    if path.is_file() and path.suffix in REFERENCE_SUFFIXES:
        return _reference_files(spec, path)
    if path.is_file() and path.suffix == ".safetensors":
        return _i2i_file(spec, path)
    if path.is_file():
        raise InitFromError(f"{KEY}: {spec}: not a checkpoint; give an i2i run directory, checkpoint folder or "
                            ".safetensors file, or a reference latest_net_G.pth")
    try:
        folder = resolve_checkpoint(path)
    except UsageError as exc:
        raise InitFromError(f"{KEY}: {exc} (or a reference latest_net_G.pth)") from None
    return _i2i_folder(spec, folder)


def _reference_files(spec: str, path: Path) -> InitSource:
    if match := REFERENCE_D.match(path.name):
        generator = path.with_name(f"{match['prefix']}_net_G{match['suffix']}")
        if not generator.is_file():
            raise InitFromError(f"{KEY}: {spec} holds a discriminator; no generator {generator.name} beside it")
        return InitSource(spec, "reference", generator, path)
    match = REFERENCE_G.match(path.name)
    discriminator = path.with_name(f"{match['prefix']}_net_D{match['suffix']}") if match else None
    return InitSource(spec, "reference", path, discriminator if discriminator and discriminator.is_file() else None)


def _i2i_file(spec: str, path: Path) -> InitSource:
    folder = path.parent if (path.parent / "trainer.json").is_file() else None
    if read_metadata(path).get("role") == "discriminator":
        if folder is None or not (folder / "generator.safetensors").is_file():
            raise InitFromError(f"{KEY}: {spec} holds discriminator weights and no generator.safetensors is "
                                "beside it; give the checkpoint folder or the generator's file")
        return _i2i_folder(spec, folder)
    beside = folder / "discriminator.safetensors" if folder is not None else None
    return InitSource(spec, "i2i", path, beside if beside is not None and beside.is_file() else None,
                      _step(path))


def _i2i_folder(spec: str, folder: Path) -> InitSource:
    generator = folder / "generator.safetensors"
    if not generator.is_file():
        raise InitFromError(f"{KEY}: {folder}: no generator.safetensors in it")
    discriminator = folder / "discriminator.safetensors"
    return InitSource(spec, "i2i", generator, discriminator if discriminator.is_file() else None, _step(generator))


def _step(path: Path) -> int | None:
    step = read_metadata(path).get("step", "")
    return int(step) if step.isdigit() else None


# ---- loading -------------------------------------------------------------------------------


def load_network(net: nn.Module, path: Path, role: str, layout: str | None,
                 options: dict[str, Any] | None = None) -> None:
    """Copy the tensors of ``path`` into ``net`` (built with the recipe's ``options`` for
    ``role``); every tensor that does not fit is named."""
    own = net.state_dict()
    if layout == "reference":
        given = reference_state(_read_reference(path), own)
    else:
        given = read_tensors(path)
    problems = fit_problems(own, given)
    if problems:
        raise InitFromError("\n".join([f"{KEY}: {path} does not fit this recipe's {role} ({len(problems)} "
                                       "problem(s)):", *_shown(problems), *_recipe_hint(path, role, layout, options or {})]))
    bad = nonfinite_weights({role: given}).get(role)
    if bad:
        named = [k for k, t in given.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        raise InitFromError(f"{KEY}: {path}: {bad} {role} weight value(s) are NaN or infinite (in "
                            f"{', '.join(named[:3])}{' and more' if len(named) > 3 else ''}); training from them "
                            "would give NaN from the first step: start from an earlier checkpoint")
    net.load_state_dict(given)


def _read_reference(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_state_file(path)
    except (ValueError, OSError) as exc:
        raise InitFromError(f"{KEY}: {exc}") from None


def reference_state(given: dict[str, torch.Tensor], own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A reference state dict under this network's keys (see the module doc); what still
    does not fit is left for :func:`fit_problems` to name. BatchNorm step counters are the
    network's own (they only matter without momentum, which the reference always sets)."""
    counters = {k: v for k, v in own.items() if k.endswith(".num_batches_tracked")}
    state = {k: v for k, v in given.items()
             if not k.endswith(".num_batches_tracked") and (k in own or not k.endswith(NORM_STATISTICS))}
    targets = [k for k in own if k not in counters]
    if set(state) != set(targets) and _shifted_indices_only(state, targets, own):
        state = dict(zip(targets, state.values()))
    return {**state, **counters}


def _shifted_indices_only(given: dict[str, torch.Tensor], targets: list[str], own: dict[str, torch.Tensor]) -> bool:
    """Whether the file's keys differ from ``targets`` only in layer indices (a dropout
    layer moves the next ones), tensor for tensor in order with equal shapes."""
    def pattern(key: str) -> str:
        return re.sub(r"(^|\.)\d+(?=\.)", r"\1#", key)

    return len(given) == len(targets) and all(pattern(a) == pattern(b) and given[a].shape == own[b].shape
                                               for a, b in zip(given, targets))


def fit_problems(own: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> list[str]:
    """One line per tensor of the network that the file lacks, holds with another shape, or
    holds beyond the network's."""
    problems = [f"{k}: expected shape {tuple(own[k].shape)}, the file has {tuple(given[k].shape)}"
                for k in own if k in given and own[k].shape != given[k].shape]
    problems += [f"{k}: missing from the file (expected shape {tuple(own[k].shape)})" for k in own if k not in given]
    problems += [f"{k}: in the file (shape {tuple(v.shape)}) but not in the network" for k, v in given.items()
                 if k not in own]
    return problems


def _shown(problems: list[str]) -> list[str]:
    lines = [f"  {p}" for p in problems[:SHOWN]]
    if len(problems) > SHOWN:
        lines.append(f"  ... and {len(problems) - SHOWN} more")
    return lines


def _recipe_hint(path: Path, role: str, layout: str | None, options: dict[str, Any]) -> list[str]:
    """How the checkpoint's network differs from this recipe's (i2i files record their recipe)."""
    if layout == "reference":
        return [f"the reference checkpoint's {role} must be built with the same options here (e.g. unet_256 or "
                "resnet_9blocks, ngf/ndf 64, its norm and channel counts)"]
    meta = read_metadata(path)
    try:
        theirs = json.loads(meta.get("recipe", "null")).get(role)
    except (ValueError, AttributeError):
        theirs = None
    if not isinstance(theirs, dict):
        return []
    differ = [f"{role}.{k} = {json.dumps(theirs.get(k))} there, {json.dumps(options.get(k))} here"
              for k in sorted(set(theirs) | set(options)) if theirs.get(k) != options.get(k)]
    if differ:
        return [f"the checkpoint's network was built otherwise: {'; '.join(differ)}"]
    return [f"the network options agree, so the channels differ: the checkpoint's task has "
            f"{meta.get('in_channels', '?')} input and {meta.get('out_channels', '?')} output channel(s)"]
