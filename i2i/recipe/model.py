"""The validated, frozen recipe."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from types import MappingProxyType
from pathlib import Path
from typing import Any

from i2i.recipe.layout import digest_layout
from i2i.recipe.schema import AugmentSection, DataSection, RunSection, TrainSection


def freeze(value: Any) -> Any:
    """Read-only copy: tables become mappings, arrays tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain ``dict``/``list`` copy of a frozen value (for TOML and JSON)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


#: Keys that may change between a run and its resumption (``--resume --set train.steps=...``).
RESUMABLE_KEYS = ("train.steps", "train.epochs", "train.log_every", "train.sample_every",
                  "train.checkpoint_every", "train.keep_checkpoints", "train.num_threads",
                  "train.final_eval", "train.final_eval_images", "train.final_eval_checkpoint", "source.root",
                  "data.num_workers")


@dataclass(frozen=True)
class ComponentSpec:
    """A component chosen in the recipe: its registered name and its options."""

    name: str
    options: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **thaw(self.options)}


@dataclass(frozen=True)
class OptimizerSpec(ComponentSpec):
    """``[optim]``: the optimiser, with every option resolved per network (``lr_g``, ``lr_d``,
    ``betas_g``...: the factory's ``lr`` for the generator and for the discriminator)."""

    def for_network(self, network: str) -> dict[str, Any]:
        """The factory's options for ``network`` (``"g"`` or ``"d"``): ``{"lr": ..., "betas": ...}``."""
        suffix = f"_{network}"
        return {k[: -len(suffix)]: thaw(v) for k, v in self.options.items() if k.endswith(suffix)}

    @property
    def lr_g(self) -> float:
        """The generator's base learning rate (the schedule scales it)."""
        return self.options["lr_g"]

    @property
    def lr_d(self) -> float:
        """The discriminator's base learning rate."""
        return self.options["lr_d"]


@dataclass(frozen=True)
class LossSpec:
    """One term of the objective: ``[losses.LABEL]`` with ``name``, ``weight`` and options."""

    label: str
    name: str
    weight: float
    options: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight, **thaw(self.options)}


@dataclass(frozen=True)
class Recipe:
    """A validated recipe: core sections, components and losses, defaults filled in."""

    path: str
    run: RunSection
    train: TrainSection
    data: DataSection
    augment: AugmentSection
    source: ComponentSpec
    task: ComponentSpec
    generator: ComponentSpec
    discriminator: ComponentSpec | None
    schedule: ComponentSpec
    optim: OptimizerSpec
    losses: tuple[LossSpec, ...]
    plugins: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def stem(self) -> str:
        """The recipe file's name without folder and suffix (``facades``)."""
        return Path(self.path).stem

    @property
    def data_root(self) -> str | None:
        """The folder (or file) the source reads: ``source.root``, which users give as
        ``--set data.root=PATH``; None for sources that read no files or when it is not set."""
        return self.source.options.get("root")

    def with_data_root(self, root: str | Path) -> Recipe:
        """This recipe reading its source from ``root`` (``i2i eval --data``, ``predict --pairs``)."""
        import dataclasses

        options = freeze({**thaw(self.source.options), "root": str(root)})
        return dataclasses.replace(self, source=ComponentSpec(self.source.name, options))

    def with_data_from(self, other: Recipe) -> Recipe:
        """This recipe reading ``other``'s data with ``other``'s hold-outs: its source, its
        ``[data]`` section and its seed (which cuts the splits and seeds each image's pair), so
        the same held-out images, with the same inputs where the tasks agree (``i2i eval
        --split-from``)."""
        import dataclasses

        return dataclasses.replace(self, source=other.source, data=other.data,
                                   run=dataclasses.replace(self.run, seed=other.run.seed))

    def as_dict(self) -> dict[str, Any]:
        """The resolved recipe as TOML-ready tables (``None`` values left out)."""
        out: dict[str, Any] = {
            "run": _drop_none(asdict(self.run)),
            "train": _drop_none(asdict(self.train)),
            "optim": self.optim.as_dict(),
            "schedule": self.schedule.as_dict(),
            "data": _drop_none(asdict(self.data)),
            "source": self.source.as_dict(),
            "augment": {f.name: thaw(getattr(self.augment, f.name)) for f in fields(self.augment)},
            "task": self.task.as_dict(),
            "generator": self.generator.as_dict(),
            "discriminator": self.discriminator.as_dict() if self.discriminator else {"name": "none"},
            "losses": {loss.label: loss.as_dict() for loss in self.losses},
        }
        if self.plugins:
            out["plugins"] = thaw(self.plugins)
        return out

    def plugin_options(self, plugin: str) -> Mapping[str, Any]:
        """The ``[plugins.NAME]`` table for an event plugin (``i2i.`` prefix optional), or ``{}``."""
        short = plugin.removeprefix("i2i.")
        return self.plugins.get(plugin) or self.plugins.get(short) or MappingProxyType({})

    def digest(self) -> str:
        """A short hash of what defines the model and its training, leaving out what may
        change when a run is resumed: where it runs, how long, how often it logs, where the
        data are. Computed over :func:`~i2i.recipe.layout.digest_layout`, so runs made with
        the old recipe layout keep theirs."""
        content = self.as_dict()
        content.pop("run", None)
        content.pop("plugins", None)
        for key in RESUMABLE_KEYS:
            section, name = key.split(".")
            content[section].pop(name, None)
        text = json.dumps(digest_layout(content), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _drop_none(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v is not None}
