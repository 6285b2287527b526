"""The distribution: the built wheel holds every package, template and recipe and the entry
points of every built-in plugin; its name is ``i2i-toolkit`` everywhere it is named; install
hints name extras that exist. (scripts/check-wheel installs the wheel into a fresh virtual
environment and trains from it: minutes, so not part of the suite.)"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser

import pytest

from i2i import __version__
from i2i.errors import UsageError
from i2i.plugins import BUILTIN_DISTRIBUTION, normalized_name
from i2i.scaffold import scaffold_plugin
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = {"onnx", "export", "tensorboard", "metrics", "mlflow", "mlflow-ui", "test"}


def _source_files() -> list[str]:
    """The checkout's files (tracked and new, not ignored): what a wheel is built from."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    return [f for f in listed.split("\0") if f and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools (the test extra has it)")
    work = tmp_path_factory.mktemp("wheel")
    for name in _source_files():
        (work / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / "src" / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "--disable-pip-version-check", "-w", str(work / "dist"), str(work / "src")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = (work / "dist").glob("i2i_toolkit-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def _installed_name(source: str) -> str:
    """Where a source file lands in the wheel, by pyproject's package-dir (plugins/x -> i2i_plugins/x)."""
    package_of = {folder: package for package, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items()}
    top, _, rest = source.partition("/")
    return f"{package_of.get(top, top)}/{rest}"


def test_the_wheel_holds_every_module_template_and_recipe_and_nothing_else(wheel):
    names = set(wheel.namelist())
    wanted = {_installed_name(f) for f in _source_files()
              if (f.startswith(("i2i/", "plugins/")) and f.endswith(".py")) or f.startswith("i2i/templates/")
              or (f.startswith("recipes/") and f.endswith((".toml", ".py")))}
    assert wanted - names == set()
    assert {f"i2i_recipes/{p.name}" for p in (ROOT / "recipes").glob("*.toml")} <= names
    assert {"i2i/cli/main.py", "i2i/templates/plugin/pyproject.toml.tmpl", "i2i_plugins/generators/__init__.py",
            "i2i_recipes/medical_ct.toml"} <= names
    tops = {name.split("/")[0] for name in names}
    assert tops == {"i2i", "i2i_plugins", "i2i_recipes", f"i2i_toolkit-{__version__}.dist-info"}


def test_the_wheels_entry_points_load_every_builtin_plugin_from_the_wheel(wheel):
    info = f"i2i_toolkit-{__version__}.dist-info"
    points = configparser.ConfigParser(delimiters=("=",))
    points.optionxform = str
    points.read_string(wheel.read(f"{info}/entry_points.txt").decode())
    assert dict(points["console_scripts"]) == {"i2i": "i2i.cli:main"}
    assert dict(points["i2i"]) == PYPROJECT["project"]["entry-points"]["i2i"]
    assert {"i2i.generators", "i2i.discriminators", "i2i.losses", "i2i.tasks", "i2i.sources",
            "i2i.recipes"} <= set(points["i2i"])
    names = set(wheel.namelist())
    for module in points["i2i"].values():
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, module


def test_the_wheels_metadata_names_the_distribution_and_its_extras(wheel):
    meta = Parser().parsestr(wheel.read(f"i2i_toolkit-{__version__}.dist-info/METADATA").decode())
    assert meta["Name"] == "i2i-toolkit"
    assert set(meta.get_all("Provides-Extra")) == EXTRAS
    requires = meta.get_all("Requires-Dist")
    for needed in ('mlflow-skinny>=3; extra == "mlflow"', 'sqlalchemy>=2.0; extra == "mlflow"',
                   'alembic>=1.13; extra == "mlflow"', 'torchmetrics>=1.4; extra == "metrics"',
                   'onnxruntime>=1.18; extra == "onnx"', 'tensorboard>=2.14; extra == "tensorboard"',
                   'mlflow>=3; extra == "mlflow-ui"'):  # issue 21: `mlflow ui` needs the full mlflow
        assert needed in requires


def test_builtin_distribution_is_the_projects_name_compared_as_pep_503_says():
    assert BUILTIN_DISTRIBUTION == normalized_name(PYPROJECT["project"]["name"]) == "i2i-toolkit"
    assert normalized_name("I2I_Toolkit") == normalized_name("i2i.toolkit") == "i2i-toolkit"


def test_the_scaffold_depends_on_the_real_distribution(tmp_path):
    scaffold_plugin("mynet", tmp_path / "pkg")
    made = tomllib.loads((tmp_path / "pkg" / "pyproject.toml").read_text())
    assert made["project"]["dependencies"] == [f"i2i-toolkit>={__version__}"]
    with pytest.raises(UsageError, match="would make the distribution i2i-toolkit, which is i2i itself"):
        scaffold_plugin("toolkit", tmp_path / "other")


#: Hints in files this branch may not edit (reserved for parallel work); fixed at merge.
HINT = re.compile(r"pip install '([\w.-]+)\[([\w,-]+)\]")


def test_install_hints_name_this_distribution_and_an_extra_it_has():
    texts = {str(p.relative_to(ROOT)): p.read_text() for folder in ("i2i", "plugins")
             for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".tmpl", ".md")}
    texts.update({name: (ROOT / name).read_text() for name in ("README.md", "CONTRIBUTING.md")})
    hints = [(name, dist, extra) for name, text in texts.items() for dist, extras in HINT.findall(text)
             for extra in extras.split(",") if dist.startswith("i2i")]
    assert len(hints) >= 3
    for name, dist, extra in hints:
        assert extra in EXTRAS, f"{name}: pip install '{dist}[{extra}]' names no extra of pyproject.toml"
        assert dist == "i2i-toolkit", f"{name}: pip install '{dist}[...]'"
