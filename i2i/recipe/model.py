"""The validated, frozen recipe."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from types import MappingProxyType
from typing import Any

from i2i.recipe.schema import AugmentSection, DataSection, OptimSection, RunSection, ScheduleSection, TrainSection


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
                  "train.final_eval", "train.final_eval_images", "data.root", "data.num_workers")


@dataclass(frozen=True)
class ComponentSpec:
    """A component chosen in the recipe: its registered name and its options."""

    name: str
    options: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **thaw(self.options)}


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
    optim: OptimSection
    schedule: ScheduleSection
    data: DataSection
    augment: AugmentSection
    source: ComponentSpec
    task: ComponentSpec
    generator: ComponentSpec
    discriminator: ComponentSpec | None
    losses: tuple[LossSpec, ...]
    plugins: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def stem(self) -> str:
        """The recipe file's name without folder and suffix (``facades``)."""
        from pathlib import Path

        return Path(self.path).stem

    def as_dict(self) -> dict[str, Any]:
        """The resolved recipe as TOML-ready tables (``None`` values left out)."""
        data = {k: v for k, v in asdict(self.data).items() if v is not None}
        data.update(thaw(self.source.options))
        out: dict[str, Any] = {
            "run": _drop_none(asdict(self.run)),
            "train": _drop_none(asdict(self.train)),
            "optim": asdict(self.optim),
            "schedule": asdict(self.schedule),
            "data": data,
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
        change when a run is resumed: where it runs, how long, how often it logs."""
        content = self.as_dict()
        content.pop("run", None)
        content.pop("plugins", None)
        for key in RESUMABLE_KEYS:
            section, name = key.split(".")
            content[section].pop(name, None)
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _drop_none(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v is not None}
