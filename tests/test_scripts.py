"""scripts/setup installs the pinned torch pair and the test extra, stays quiet on success
and fails loudly (pip's output, pip's exit status) when an install step fails; before, a
pip failure was hidden by ``|| true``. The real pip is replaced by a fake interpreter."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/calls.log"
case "$*" in
  "-c "*) echo "i2i 0.1.0 torch fake"; exit 0 ;;
  *torch==2.14.1*) echo "WARNING: Location 'file:///opt/x/' is ignored: it is neither a file nor a directory."
                   exit 0 ;;
  *) if [ -n "${FAIL_EXTRA:-}" ]; then
       echo "ERROR: Could not find a version that satisfies the requirement bogus-dependency>=99"
       exit 3
     fi
     exit 0 ;;
esac
"""


def _checkout_with_fake_python(tmp_path: Path) -> Path:
    """A copy of scripts/ whose .venv/bin/python is the fake (so setup creates no venv)."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return tmp_path


def _setup(folder: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(folder / "scripts" / "setup")], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", **env})


def test_setup_installs_the_torch_pair_then_the_test_extra_quietly(tmp_path):
    folder = _checkout_with_fake_python(tmp_path)
    done = _setup(folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "i2i 0.1.0 torch fake\n" and done.stderr == ""  # pip's ignored-location notes dropped
    calls = (folder / ".venv" / "bin" / "calls.log").read_text().splitlines()
    assert calls[0].endswith("-q install torch==2.14.1 torchvision==0.29.1")
    assert calls[1].endswith("-q install -e .[test]")


def test_setup_fails_loudly_with_pips_output_and_status(tmp_path):
    folder = _checkout_with_fake_python(tmp_path)
    failed = _setup(folder, FAIL_EXTRA="1")
    assert failed.returncode == 3
    assert "ERROR: Could not find a version that satisfies the requirement bogus-dependency>=99" in failed.stderr
    assert "error: 'pip install -e .[test]' failed (exit status 3)" in failed.stderr
    assert "i2i 0.1.0" not in failed.stdout  # it stopped at the failed step
    assert len((folder / ".venv" / "bin" / "calls.log").read_text().splitlines()) == 2


def test_quiet_pip_passes_on_what_pip_says_on_success(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/usr/bin/env bash\necho 'WARNING: x is ignored'\necho 'Successfully installed thing-1.0'\n")
    fake.chmod(0o755)
    done = subprocess.run(["bash", "-c", f"set -euo pipefail; source {ROOT}/scripts/lib.sh; "
                                         f"quiet_pip {fake} install thing; echo next"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == "Successfully installed thing-1.0\nnext\n"


def test_ci_runs_scripts_test_which_runs_setup():
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()
    assert "./scripts/setup" in (ROOT / "scripts" / "test").read_text()
