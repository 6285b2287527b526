"""``i2i show [KIND] NAME``: a component's options and documentation, or a plugin's hooks."""

from __future__ import annotations

import click

from i2i.errors import UsageError, did_you_mean

#: ``KIND`` as it may be written: singular or plural, ``plugin``, or ``section`` (a core recipe section).
KIND_NAMES = {"generator": "generators", "discriminator": "discriminators", "loss": "losses", "task": "tasks",
              "source": "sources", "schedule": "schedules", "optimizer": "optimizers", "format": "formats",
              "metric": "metrics", "logger": "loggers", "plugin": "plugin", "section": "section"}


@click.command("show")
@click.argument("words", nargs=-1, required=True, metavar="[KIND] NAME")
def show(words: tuple[str, ...]) -> None:
    """Print a component's options (type, default, documentation) and the plugin that
    registered it, a plugin's hooks and components, or a core recipe section's keys.

    \b
      i2i show unet                 every component (and plugin) called unet
      i2i show generator unet       only the generator
      i2i show plugin i2i.mlflow    a plugin: its hooks, components and documentation
      i2i show train                the core section [train]: every key, its type, default and meaning
    KIND: generator, discriminator, loss, task, source, schedule, optimizer, format, metric,
    logger (or the plural), plugin, or section (run, train, data, augment).
    """
    from i2i.cli.component_docs import component_lines, plugin_lines, section_lines
    from i2i.cli.options import loaded_plugins
    from i2i.recipe.schema import CORE_SECTIONS

    if len(words) > 2:
        raise UsageError(f"i2i show: expected [KIND] NAME, got {len(words)} words: {' '.join(words)}")
    kind, name = (None, words[0]) if len(words) == 1 else (_kind(words[0]), words[1])
    if kind == "section" or (kind is None and name in CORE_SECTIONS):
        if name not in CORE_SECTIONS:
            raise UsageError(f"i2i show section: no core section {name!r}{did_you_mean(name, CORE_SECTIONS)}; "
                             f"core sections: {', '.join(CORE_SECTIONS)} (component sections: i2i show KIND NAME)")
        click.echo("\n".join(section_lines(name)))
        return
    plugins = loaded_plugins()
    blocks = []
    for registry in plugins.registries.values():
        if kind in (None, registry.kind) and name in registry:
            blocks.append(component_lines(registry.get(name), registry, plugins))
    info = _plugin_named(plugins, name) if kind in (None, "plugin") else None
    if info is not None:
        blocks.append(plugin_lines(info, plugins))
    if not blocks:
        if kind not in (None, "plugin"):
            plugins[kind].get(name)  # raises naming the close matches and what is available
        raise UsageError(_unknown(plugins, name, kind))
    click.echo("\n\n".join("\n".join(lines) for lines in blocks))


def _kind(word: str) -> str:
    kind = KIND_NAMES.get(word) or (word if word in KIND_NAMES.values() else None)
    if kind is None:
        raise UsageError(f"i2i show: unknown kind {word!r}{did_you_mean(word, KIND_NAMES)}; "
                         f"accepted: {', '.join(KIND_NAMES)}")
    return kind


def _plugin_named(plugins, name: str):
    """The plugin called ``name``, or ``i2i.NAME`` (built-ins and bundled loggers)."""
    return plugins.info(name) or plugins.info(f"i2i.{name}")


def _unknown(plugins, name: str, kind: str | None) -> str:
    known = [info.name for info in plugins.infos]
    if kind is None:
        known += [n for registry in plugins.registries.values() for n in registry.names()]
    what = "plugin" if kind == "plugin" else "component or plugin"
    return (f"i2i show: no {what} called {name!r}{did_you_mean(name, known)}; `i2i list-plugins` lists "
            "every plugin and component")
