"""i2i: a plugin-based toolkit for paired image-to-image translation (the pix2pix family).

Python users (see ``docs/python-api.md``)::

    import i2i

    run = i2i.train("recipes/facades.toml", ["data.root='facades/train'", "train.steps=100"])
    model = i2i.load_model(run.run_dir)
    output = i2i.predict(model, image)            # a tensor (C, H, W) or an array (H, W[, C])
    i2i.predict_files(model, ["photos/"], "out/")
    metrics = i2i.evaluate(model).summary

Plugins implement the hooks in :mod:`i2i.hookspecs` and mark them with :data:`hookimpl`::

    from i2i import hookimpl

    @hookimpl
    def register_generators(register):
        register("my_unet", MyUNet)

Importing ``i2i`` loads nothing heavy: the API functions import torch when first called.
"""

from __future__ import annotations

from typing import Any

from i2i.hookspecs import hookimpl
from i2i.version import __version__

#: The Python API (:mod:`i2i.api`), imported on first use.
API = ("train", "load_model", "predict", "make_input", "predict_files", "evaluate")

__all__ = ["__version__", "hookimpl", *API]


def __getattr__(name: str) -> Any:
    if name in API:
        from i2i import api

        return getattr(api, name)
    raise AttributeError(f"module 'i2i' has no attribute {name!r}")
