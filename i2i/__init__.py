"""i2i: a plugin-based toolkit for paired image-to-image translation (the pix2pix family).

Plugins implement the hooks in :mod:`i2i.hookspecs` and mark them with :data:`hookimpl`::

    from i2i import hookimpl

    @hookimpl
    def register_generators(register):
        register("my_unet", MyUNet)
"""

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations in i2i plugins.
hookimpl = pluggy.HookimplMarker("i2i")

__all__ = ["__version__", "hookimpl"]
