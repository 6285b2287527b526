"""Recipe-named kornia augmentations: checking ``[[augment.geometric]]`` /
``[[augment.photometric]]`` entries and building them.

An entry is a table with ``name`` (a class of ``kornia.augmentation``) and that class's
keyword options. Geometric entries must be geometric 2-D augmentations (they move pixels,
so input and target get the same draw); photometric entries must be intensity
augmentations (applied to the input only).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from i2i.errors import did_you_mean, one_of

KINDS = {"geometric": "GeometricAugmentationBase2D", "photometric": "IntensityAugmentationBase2D"}
#: Geometric kornia augmentations that do not derive from GeometricAugmentationBase2D.
EXTRA_GEOMETRIC = ("RandomElasticTransform", "RandomThinPlateSpline", "RandomFisheye")
#: Size-changing or deterministic classes the preprocessing already covers.
EXCLUDED = ("CenterCrop", "Resize", "RandomCrop", "PadTo", "LongestMaxSize", "SmallestMaxSize")


def available(kind: str) -> dict[str, type]:
    """``{name: class}`` of the kornia augmentations of ``kind`` a recipe may name."""
    import kornia.augmentation as K

    base = getattr(K, KINDS[kind])
    found = {name: obj for name, obj in vars(K).items()
             if inspect.isclass(obj) and issubclass(obj, base) and obj is not base and name not in EXCLUDED}
    if kind == "geometric":
        found.update({name: getattr(K, name) for name in EXTRA_GEOMETRIC if hasattr(K, name)})
    return found


def check_augmentation(kind: str, entry: Any) -> list[tuple[str, str]]:
    """Problems with one entry as ``(suffix, message)`` (suffix like ``.name``)."""
    if not isinstance(entry, Mapping):
        return [("", f"expected a table with 'name' and options, got {entry!r}")]
    choices = available(kind)
    name = entry.get("name")
    if name not in choices:
        return [(".name", f"{name!r} is not a kornia {kind} augmentation{did_you_mean(str(name), choices)}; "
                          f"accepted: {one_of(choices)}")]
    params = inspect.signature(choices[name]).parameters
    accepted = [p for p in params if p not in ("self", "keepdim", "return_transform")]
    problems = []
    for key in entry:
        if key != "name" and key not in accepted:
            problems.append((f".{key}", f"kornia's {name} has no option {key!r}{did_you_mean(key, accepted)}; "
                                        f"it accepts: {one_of(accepted)}"))
    if not problems:
        try:
            build(kind, entry)
        except Exception as exc:  # kornia validates its own arguments
            problems.append(("", f"kornia's {name} rejects these options: {type(exc).__name__}: {exc}"))
    return problems


def build(kind: str, entry: Mapping[str, Any]):
    """The kornia augmentation module for an entry (lists become tuples, as kornia expects)."""
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items() if k != "name"}
    return available(kind)[entry["name"]](**options)
