"""i2i's built-in plugins, installed as ``i2i_plugins`` and loaded through the ``i2i``
entry-point group exactly like third-party plugins."""
