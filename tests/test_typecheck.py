"""Recipe values against annotations."""

from typing import Literal

import pytest

from i2i.typecheck import check_value, coerce


@pytest.mark.parametrize("value, annotation", [
    (3, int), (3, float), (2.5, float), ("a", str), (True, bool), (None, int | None), (4, int | None),
    ("x", Literal["x", "y"]), ([1, 2], list[int]), ([1, 2.5], list[float]), ({"a": 1}, dict),
    ((1, 2), tuple[int, int]), ([1, 2], tuple[int, ...]),
])
def test_accepted(value, annotation):
    assert check_value(value, annotation) is None


@pytest.mark.parametrize("value, annotation, message", [
    (True, int, "expected an integer, got True"),
    (2.5, int, "expected an integer, got 2.5"),
    ("3", int, "expected an integer, got '3'"),
    (1, bool, "expected true or false, got 1"),
    ("z", Literal["x", "y"], "expected one of 'x', 'y', got 'z'"),
    ([1, "a"], list[int], "expected a list of (an integer), got [1, 'a']"),
    ([1], tuple[int, int], None),
])
def test_rejected(value, annotation, message):
    result = check_value(value, annotation)
    if message is None:
        assert result is not None
    else:
        assert result == message


def test_coerce_int_to_float_and_list_to_tuple():
    assert isinstance(coerce(3, float), float)
    assert coerce([1, 2], tuple[int, int]) == (1, 2)
    assert coerce(3, float | None) == 3.0
