"""Component registries: one per kind, each entry remembering which plugin registered it.

A component is a factory (a class or a function) whose keyword parameters are the options
a recipe may set. Parameters the engine supplies itself (``in_channels`` of a generator,
say) are the registry's ``provided`` names and may not be set in a recipe. A required
option the registry ``defers`` (a source's ``root``) may be missing from a recipe: it is
often given only when the component is built (``--set data.root=PATH``, ``i2i eval --data``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from i2i.errors import ComponentError, did_you_mean, one_of
from i2i.typecheck import check_value, coerce, describe, resolved_parameters

#: The component kinds, in the order they are listed.
KINDS = ("generators", "discriminators", "losses", "tasks", "sources", "schedules", "optimizers", "formats",
         "metrics", "loggers")


#: Abbreviations whose full stop ends no sentence.
ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "cf.", "vs.", "approx.", "Fig.", "Eq.", "No.")


def literals(text: str) -> str:
    """reStructuredText literals (````x````) as Markdown's (```x```), for terminals."""
    return re.sub(r"``(.+?)``", r"`\1`", text, flags=re.S)


def first_sentence(text: str) -> str:
    """``text`` up to its first full stop that ends a sentence: not an ellipsis, a decimal
    point or an abbreviation (:data:`ABBREVIATIONS`: "et al.", "e.g."...)."""
    for end in re.finditer(r"(?<!\.)\.(?=\s|$)", text):
        head = text[:end.end()]
        if not any(head.endswith((f" {a}", f"({a}")) or head == a for a in ABBREVIATIONS):
            return head
    return text


@dataclass(frozen=True)
class Component:
    """A registered component: its kind, name, factory and the plugin that registered it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    description: str = ""

    def parameters(self) -> dict[str, inspect.Parameter]:
        """The factory's keyword parameters, annotations resolved."""
        return {
            name: p
            for name, p in resolved_parameters(self.factory).items()
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        }

    @property
    def summary(self) -> str:
        """The description's first sentence (:func:`first_sentence`), literals shown as
        ```x```: the line ``i2i list-plugins`` shows."""
        return first_sentence(literals(self.description))

    def defaults(self) -> dict[str, Any]:
        """Options with a default value, as a recipe would write them."""
        return {
            name: p.default
            for name, p in self.parameters().items()
            if p.default is not inspect.Parameter.empty and p.default is not None
        }


@dataclass
class Registry:
    """Components of one kind, by name."""

    kind: str
    provided: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()
    _entries: dict[str, Component] = field(default_factory=dict)
    #: Plugins that failed to load or to register this kind, with their errors: an unknown
    #: name may be one of theirs.
    failed_plugins: dict[str, str] = field(default_factory=dict)

    @property
    def singular(self) -> str:
        """``generator`` for the ``generators`` registry, ``loss`` for ``losses``."""
        if self.kind.endswith("sses"):
            return self.kind[:-2]
        return self.kind[:-1] if self.kind.endswith("s") else self.kind

    def add(self, name: str, factory: Callable[..., Any], plugin: str, description: str = "") -> Component:
        """Register ``factory`` under ``name``; a name taken by another plugin fails naming both."""
        if not isinstance(name, str) or not name:
            raise ComponentError(f"plugin {plugin!r}: a {self.singular} name must be a non-empty string, got {name!r}")
        if not callable(factory):
            raise ComponentError(f"plugin {plugin!r}: {self.singular} {name!r} factory is not callable: {factory!r}")
        if name in self._entries:
            other = self._entries[name].plugin
            raise ComponentError(
                f"{self.singular} {name!r} from plugin {plugin!r} is already registered by plugin {other!r}; "
                "rename one of them"
            )
        doc = description or (inspect.getdoc(factory) or "").split("\n\n")[0].replace("\n", " ")
        component = Component(self.kind, name, factory, plugin, doc)
        self._entries[name] = component
        return component

    def get(self, name: str) -> Component:
        """The component called ``name``; an unknown name fails with close matches and the available names."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ComponentError(self.unknown_message(name)) from None

    def unknown_message(self, name: Any) -> str:
        """Why ``name`` is not a known component, with close matches and what is available."""
        message = (f"unknown {self.singular} {name!r}{did_you_mean(str(name), self._entries)}; "
                   f"available: {one_of(self._entries)}")
        for plugin, error in self.failed_plugins.items():
            message += f"; plugin {plugin!r} failed to load and may be the one offering it ({error})"
        return message

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Component]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def check_options(self, name: str, options: Mapping[str, Any], complete: bool = False) -> list[tuple[str, str]]:
        """Problems with ``options`` for component ``name`` as ``(option, message)`` pairs.

        Unknown options are listed with the accepted ones; missing required options (the
        ``deferred`` ones only when ``complete``: about to be built) and values of the wrong
        type are reported too. Nothing is built.
        """
        params = self.get(name).parameters()
        accepted = [p for p in params if p not in self.provided]
        problems: list[tuple[str, str]] = []
        for key, value in options.items():
            if key in self.provided:
                problems.append((key, f"is set by i2i itself for a {self.singular}, not in the recipe"))
            elif key not in params:
                problems.append((
                    key,
                    f"{self.singular} {name!r} has no option {key!r}{did_you_mean(key, accepted)}; "
                    f"it accepts: {one_of(accepted)}",
                ))
            else:
                message = check_value(value, params[key].annotation)
                if message:
                    problems.append((key, message))
        for key in accepted:
            param = params[key]
            if param.default is inspect.Parameter.empty and key not in options and (complete or key not in self.deferred):
                problems.append((key, f"{self.singular} {name!r} requires option {key!r} ({describe(param.annotation)})"))
        return problems

    def build(self, name: str, options: Mapping[str, Any], **provided: Any) -> Any:
        """Check ``options`` and call the factory with them plus the engine-``provided`` values."""
        problems = self.check_options(name, options, complete=True)
        if problems:
            raise ComponentError(
                "\n".join(f"{self.singular}.{key}: {msg}" for key, msg in problems)
            )
        params = self.get(name).parameters()
        kwargs = {k: coerce(v, params[k].annotation) for k, v in options.items()}
        kwargs.update({k: v for k, v in provided.items() if k in params})
        return self.get(name).factory(**kwargs)


def new_registries() -> dict[str, Registry]:
    """One empty registry per kind, with the parameters i2i provides to each."""
    provided = {
        "generators": ("in_channels", "out_channels"),
        "discriminators": ("in_channels",),
        "sources": ("seed",),
        "schedules": ("total_steps", "higher_is_better"),
        "optimizers": ("params",),
        "loggers": ("run_dir",),
    }
    deferred = {"sources": ("root",)}
    return {kind: Registry(kind, provided.get(kind, ()), deferred.get(kind, ())) for kind in KINDS}
