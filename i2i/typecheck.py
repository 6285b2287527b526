"""Check recipe values (TOML types) against Python type annotations.

Used for the core recipe sections and for the options of every plugin component, whose
factory annotations are the contract: ``norm: Literal["batch", "instance"] = "batch"``
makes ``generator.norm = "bach"`` a validation error before anything is built. Numeric
bounds are ``annotated_types`` constraints: ``lr: Annotated[float, Gt(0)] = 2e-4`` makes
``optim.lr_g = -1`` fail with "must be > 0, got -1".
"""

from __future__ import annotations

import collections.abc
import inspect
import math
import types
import typing
from typing import Annotated, Any, Literal, Union

import annotated_types

#: annotated_types constraints that i2i checks, with the comparison each makes.
_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _split(annotation: Any) -> tuple[Any, list[tuple[str, str, Any]]]:
    """``Annotated[float, Gt(0)]`` -> ``(float, [("gt", ">", 0)])``; other annotations as they are."""
    if typing.get_origin(annotation) is not Annotated:
        return annotation, []
    base, *metadata = typing.get_args(annotation)
    bounds = []
    for item in metadata:
        parts = list(item) if isinstance(item, annotated_types.Interval) else [item]
        for part in parts:
            for attr, symbol in _BOUNDS:
                if getattr(part, attr, None) is not None:
                    bounds.append((attr, symbol, getattr(part, attr)))
    return base, bounds


def _bounds_text(bounds: list[tuple[str, str, Any]]) -> str:
    return " and ".join(f"{symbol} {limit}" for _, symbol, limit in bounds)


def _out_of_bounds(value: Any, bounds: list[tuple[str, str, Any]]) -> bool:
    checks = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False  # reported as non-finite, once, by the recipe checks
    return not all(checks[attr](value, limit) for attr, _, limit in bounds)


def describe(annotation: Any) -> str:
    """A short human description of an annotation, e.g. ``an integer`` or ``one of 'a', 'b'``."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return "any value"
    annotation, bounds = _split(annotation)
    if bounds:
        return f"{describe(annotation)} {_bounds_text(bounds)}"
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        text = " or ".join(describe(a) for a in args)
        return text + (" (or omitted)" if len(args) < len(typing.get_args(annotation)) else "")
    if origin in (list, tuple, typing.Sequence, collections.abc.Sequence):
        args = typing.get_args(annotation)
        inner = describe(args[0]) if args else "any value"
        return f"a list of ({inner})"
    if origin in (dict, typing.Mapping):
        return "a table"
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        dict: "a table",
        list: "a list",
    }.get(annotation, getattr(annotation, "__name__", str(annotation)))


def check_value(value: Any, annotation: Any) -> str | None:
    """``None`` when ``value`` fits ``annotation``, else a message saying what is accepted."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return None
    base, bounds = _split(annotation)
    if bounds and _fits(value, base) and _out_of_bounds(value, bounds):
        return f"must be {_bounds_text(bounds)}, got {value!r}"
    if _fits(value, annotation):
        return None
    return f"expected {describe(annotation)}, got {value!r}"


def _fits(value: Any, annotation: Any) -> bool:
    annotation, bounds = _split(annotation)
    if bounds and _out_of_bounds(value, bounds):
        return False
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return any(_fits(value, a) for a in typing.get_args(annotation))
    if annotation is type(None) or annotation is None:
        return value is None
    if origin in (list, tuple, typing.Sequence, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        args = typing.get_args(annotation)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(_fits(v, a) for v, a in zip(value, args))
        return not args or all(_fits(v, args[0]) for v in value)
    if origin in (dict, typing.Mapping) or annotation in (dict, typing.Mapping):
        return isinstance(value, dict)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True  # annotations we cannot check (protocols, callables) accept anything


def coerce(value: Any, annotation: Any) -> Any:
    """Convert a checked TOML value to the annotated type (ints to float, lists to tuples)."""
    annotation, _ = _split(annotation)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if _fits(value, arg):
                return coerce(value, arg)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if origin is list and isinstance(value, tuple):  # frozen recipe values are tuples
        return list(value)
    return value


def resolved_parameters(factory: Any) -> dict[str, inspect.Parameter]:
    """The factory's parameters with string annotations resolved (``from __future__ import annotations``)."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    signature = inspect.signature(factory)
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to what is there
        hints = {}
    return {
        name: param.replace(annotation=hints.get(name, param.annotation))
        for name, param in signature.parameters.items()
    }
