"""CONTRIBUTING.md's layout table names every package and top-level module of i2i/, and
nothing that is gone."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def layout_section() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    return text[text.index("### Layout"):text.index("### Architecture")]


def test_every_package_and_module_of_i2i_is_in_the_layout_table():
    section = layout_section()
    entries = {p.name for p in (ROOT / "i2i").iterdir()
               if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").exists()}
    entries.add("templates")
    named = set(re.findall(r"`i2i/(\w+(?:\.py)?)/?`", section))
    assert entries - named == set(), f"missing from CONTRIBUTING.md's layout: {sorted(entries - named)}"
    assert named - entries - {"__init__.py"} == set(), f"named but gone: {sorted(named - entries)}"


def test_the_core_packages_rows_name_each_of_their_modules():
    section = layout_section()
    for package in ("engine", "data", "inference", "evaluation"):
        row = next(line for line in section.splitlines() if line.startswith(f"| `i2i/{package}/`"))
        named = set(re.findall(r"`(\w+\.py)`", row))
        present = {p.name for p in (ROOT / "i2i" / package).glob("*.py")} - {"__init__.py"}
        assert named == present, f"i2i/{package}/: missing {sorted(present - named)}, gone {sorted(named - present)}"
