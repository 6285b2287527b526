"""Training events: each plugin's hook is called on its own, so that a failing logger
is reported (naming its plugin) and switched off instead of ending a long run."""

from __future__ import annotations

import sys
import traceback
from typing import Any

from i2i.plugins import Plugins


class Events:
    """``events.emit("on_step_end", trainer=..., step=..., logs=...)``."""

    def __init__(self, plugins: Plugins, enabled: bool = True):
        self.plugins = plugins
        self.enabled = enabled
        self.disabled: set[str] = set()

    def emit(self, name: str, **kwargs: Any) -> None:
        if not self.enabled:
            return
        for impl in getattr(self.plugins.hook, name).get_hookimpls():
            if impl.plugin_name in self.disabled:
                continue
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:
                self.disabled.add(impl.plugin_name)
                where = traceback.extract_tb(exc.__traceback__)[-1]
                print(f"i2i: plugin {impl.plugin_name!r} failed in {name}: {type(exc).__name__}: {exc} "
                      f"({where.filename}:{where.lineno}); its training events are switched off for this run",
                      file=sys.stderr, flush=True)
