"""The recipes shipped with i2i, installed as package data of ``i2i_recipes``.

The built-in plugin ``i2i.recipes`` registers every ``*.toml`` here by its file name, so
``i2i run medical_ct`` works after a plain ``pip install``; ``i2i recipes`` lists them.
"""
