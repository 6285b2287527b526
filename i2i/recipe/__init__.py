"""Recipes: TOML files validated into a frozen :class:`Recipe`."""

from i2i.recipe.model import ComponentSpec, LossSpec, OptimizerSpec, Recipe
from i2i.recipe.validate import load_recipe, resolve

__all__ = ["ComponentSpec", "LossSpec", "OptimizerSpec", "Recipe", "load_recipe", "resolve"]
