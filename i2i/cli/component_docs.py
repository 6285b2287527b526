"""What ``i2i show`` and ``i2i list-plugins --verbose`` print about components and plugins.

A component's options are its factory's keyword parameters: the type comes from the
annotation (:func:`i2i.typecheck.describe`), the default from the signature, the text from
the factory's docstring. A docstring may document options one by one in a Google-style
section (``Args:``, ``Arguments:``, ``Options:`` or ``Parameters:``, then ``name: text`` or
``name (type): text`` lines, continuation lines indented); the rest of the docstring is
shown as the component's description.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
import typing
from typing import Any

from i2i.plugins import PluginInfo, Plugins
from i2i.recipe.schema import CORE_SECTIONS
from i2i.registry import Component, Registry, literals
from i2i.typecheck import describe

OPTION_SECTIONS = ("Args", "Arguments", "Options", "Parameters")
_SECTION = re.compile(rf"^(?:{'|'.join(OPTION_SECTIONS)}):\s*$")
_OPTION = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
WIDTH = 96


def docstring(factory: Any) -> str:
    """The factory's own docstring (a class without one: its ``__init__``'s), or ``""``."""
    if inspect.isclass(factory) and "__doc__" in vars(factory) and factory.__doc__:
        return inspect.cleandoc(factory.__doc__)
    target = factory.__init__ if inspect.isclass(factory) else factory
    return inspect.cleandoc(target.__doc__) if getattr(target, "__doc__", None) else ""


def split_docstring(text: str) -> tuple[str, dict[str, str]]:
    """``(description, {option: text})``: the option sections taken out of ``text`` (a
    cleaned docstring: headings at column 0)."""
    kept: list[str] = []
    options: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not _SECTION.match(lines[i]):
            kept.append(lines[i])
            i += 1
            continue
        i += 1
        base, current = None, None
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
            line, i = lines[i], i + 1
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            base = indent if base is None else base
            match = _OPTION.match(line.strip())
            if indent == base and match:
                current = match.group(1)
                options[current] = match.group(2).strip()
            elif current is not None:
                options[current] = f"{options[current]} {line.strip()}".strip()
    return "\n".join(kept).strip(), options


def toml_value(value: Any) -> str:
    """``value`` as a recipe would write it (``"batch"``, ``true``, ``[1, 2]``)."""
    import tomli_w

    if isinstance(value, (list, tuple)):  # inline, as recipes write short arrays
        return f"[{', '.join(toml_value(v) for v in value)}]"
    try:
        return tomli_w.dumps({"v": value}).strip().removeprefix("v = ")
    except (TypeError, ValueError):
        return repr(value)


def component_lines(component: Component, registry: Registry, plugins: Plugins) -> list[str]:
    """The full description of one component: origin, text, options, what i2i sets."""
    factory = component.factory
    where = f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', repr(factory))}"
    info = plugins.info(component.plugin)
    lines = [f"{registry.singular} {component.name}  (plugin {_plugin_label(info, component.plugin)}; {where})"]
    description, option_docs = split_docstring(docstring(factory) or component.description)
    if description:
        lines += ["", *_wrapped(literals(description), "  ")]
    options = {k: p for k, p in component.parameters().items() if k not in registry.provided}
    lines += ["", f"options ({_chosen_by(component, registry)}):"]
    if registry.kind == "losses":
        lines.append("  weight: a number; default 1.0 (every loss term: its weight in the objective; 0 switches it "
                     "off)")
    elif not options:
        lines.append("  none")
    for name, param in options.items():
        default = ("required" if param.default is inspect.Parameter.empty
                   else "not set" if param.default is None else f"default {toml_value(param.default)}")
        lines.append(f"  {name}: {describe(param.annotation)}; {default}")
        if name in option_docs:
            lines += _wrapped(literals(option_docs[name]), "      ")
    provided = [k for k in component.parameters() if k in registry.provided]
    if provided:
        lines.append(f"set by i2i: {', '.join(provided)}")
    return lines


def section_lines(section: str) -> list[str]:
    """A core recipe section (``[train]``, ``[data]``...): every key with its type, default,
    bounds and meaning, from :mod:`i2i.recipe.schema`, the one place they are defined."""
    cls = CORE_SECTIONS[section]
    hints = typing.get_type_hints(cls)
    lines = [f"recipe section [{section}]  (core keys; i2i.recipe.schema.{cls.__name__})"]
    if cls.__doc__:
        lines += ["", *_wrapped(literals(inspect.cleandoc(cls.__doc__)), "  ")]
    lines += ["", "keys:"]
    for field in dataclasses.fields(cls):
        default = "not set" if field.default is None else f"default {toml_value(field.default)}"
        bounds = [f"{word} {field.metadata[k]:g}" for k, word in (("ge", ">="), ("gt", ">"), ("le", "<="))
                  if field.metadata.get(k) is not None]
        kind = describe(hints[field.name]) + (f" ({', '.join(bounds)})" if bounds else "")
        lines.append(f"  {section}.{field.name}: {kind}; {default}")
        lines += _wrapped(literals(field.metadata.get("doc", "")), "      ")
    return lines


def plugin_lines(info: PluginInfo, plugins: Plugins, components: bool = False) -> list[str]:
    """A plugin: origin, the hooks it implements, its components (in full with
    ``components``), its documentation when it has no components, problems."""
    lines = [f"plugin {_plugin_label(info, info.name)}  (module {info.module})"]
    lines.append(f"  hooks: {', '.join(sorted(info.hooks)) or 'none'}")
    module = plugins.manager.get_plugin(info.name)
    owned = [(kind, name) for kind, names in info.components.items() for name in sorted(names)]
    if not owned and module is not None and inspect.getdoc(module):
        lines += ["", *_wrapped(literals(inspect.cleandoc(module.__doc__)), "  ")]
    for kind, name in owned:
        if components:
            lines += ["", *component_lines(plugins[kind].get(name), plugins[kind], plugins)]
        else:
            lines.append(f"  {plugins[kind].singular} {name}: {plugins[kind].get(name).summary}")
    if info.error:
        lines.append(f"  error: {info.error}")
    lines += [f"  warning: {w}" for w in info.warnings]
    return lines


def _chosen_by(component: Component, registry: Registry) -> str:
    """How a recipe picks the component, e.g. ``[generator] name = "unet"``."""
    value = toml_value(component.name)
    if registry.kind == "formats":
        return "chosen by the file suffix (i2i predict --ext); set with i2i predict --format-option KEY=VALUE"
    if registry.kind == "loggers":
        return f"[plugins.{component.name}] enabled = true"
    if registry.kind == "metrics":
        return "scored for every task by validation and i2i eval"
    section = {"losses": "losses.LABEL", "optimizers": "optim"}.get(registry.kind, registry.singular)
    return f"[{section}] name = {value}"


def _plugin_label(info: PluginInfo | None, name: str) -> str:
    if info is None:
        return name
    version = f" {info.version}" if info.version else ""
    return f"{info.name}{version}{', built in' if info.builtin else ''}"


def _wrapped(text: str, indent: str) -> list[str]:
    """Paragraphs wrapped to :data:`WIDTH`; indented blocks (examples) kept as they are."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        if not paragraph.strip():
            continue
        if out:
            out.append("")
        block = paragraph.splitlines()
        if any(line.startswith((" ", "\t")) for line in block[1:]) or paragraph.rstrip().endswith("::"):
            out += [f"{indent}{line}".rstrip() for line in block]
        else:
            out += textwrap.wrap(" ".join(line.strip() for line in block), WIDTH, initial_indent=indent,
                                 subsequent_indent=indent)
    return out
