"""Training events, called through pluggy so that ``tryfirst``/``trylast`` order the plugins
and ``wrapper=True`` (or old-style ``hookwrapper=True``) implementations wrap the others.

Each plugin's event functions are guarded once per run: an exception is reported naming
the plugin and the event, and that plugin's events are switched off for the rest of the run
(the other plugins, and training, go on). A guarded wrapper that is switched off still
yields, so pluggy's call protocol holds.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from typing import Any

from i2i.loggers import Logger
from i2i.messages import say
from i2i.plugins import Plugins

#: The training events of :mod:`i2i.hookspecs`, in the order a run calls them.
EVENTS = ("on_train_start", "on_step_end", "on_validation_end", "on_checkpoint", "on_train_end", "on_run_end")


class Events:
    """``events.emit("on_step_end", trainer=..., step=..., logs=...)``: one pluggy hook call,
    then the same method of each of the run's ``loggers`` (``(name, logger)`` pairs)."""

    def __init__(self, plugins: Plugins, enabled: bool = True, loggers: Sequence[tuple[str, Logger]] = ()):
        self.plugins = plugins
        self.enabled = enabled
        self.loggers = list(loggers) if enabled else []
        self.disabled: set[str] = set()
        self._guarded: dict[int, Callable[..., Any]] = {}
        if enabled:
            for name in EVENTS:
                for impl in getattr(plugins.hook, name).get_hookimpls():
                    self._guard(name, impl)

    def emit(self, name: str, **kwargs: Any) -> None:
        """Call every plugin's ``name`` implementation in pluggy's order, then the loggers'."""
        if not self.enabled:
            return
        getattr(self.plugins.hook, name)(**kwargs)
        for logger_name, logger in self.loggers:
            who = f"logger {logger_name}"
            if who in self.disabled:
                continue
            try:
                getattr(logger, name)(**kwargs)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a logger's own failure (sys.exit too)
                self._report(who, name, exc, f"{who!r}")

    def _report(self, plugin: str, event: str, exc: BaseException, who: str | None = None) -> None:
        self.disabled.add(plugin)
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" ({where.filename}:{where.lineno})" if where else ""
        say(f"i2i: {who or f'plugin {plugin!r}'} failed in {event}: {type(exc).__name__}: {exc}{at}; its training "
            "events are switched off for this run")

    def _guard(self, event: str, impl: Any) -> None:
        original = getattr(impl.function, "__i2i_original__", impl.function)
        plugin, events = impl.plugin_name, self

        if impl.hookwrapper or getattr(impl, "wrapper", False):
            def guarded(*args: Any) -> Any:
                if plugin in events.disabled:
                    return (yield)
                inner = original(*args)
                try:
                    next(inner)
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin's own failure (sys.exit too)
                    events._report(plugin, event, exc)
                    return (yield)
                result = yield
                try:
                    inner.send(result)
                except StopIteration as stop:
                    return stop.value if stop.value is not None else result
                except (Exception, SystemExit) as exc:  # noqa: BLE001
                    events._report(plugin, event, exc)
                return result
        else:
            def guarded(*args: Any) -> Any:
                if plugin in events.disabled:
                    return None
                try:
                    return original(*args)
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin's own failure (sys.exit too)
                    events._report(plugin, event, exc)
                    return None

        guarded.__i2i_original__ = original  # type: ignore[attr-defined]
        impl.function = guarded
