"""check --run as an ordinary user: the sandbox (bwrap, or the unshare fallback when bwrap is not on PATH) works
without root, through unprivileged user namespaces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import elfship
from tests.support.binaries import MATRIX_BINARIES
from tests.support.fixtures import debian_root

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to set the scene up (bind mount, setpriv)"
)
SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """pytest's public_dir lives under a mode-700 directory; an ordinary user needs a path it can walk."""
    path = Path(tempfile.mkdtemp(prefix="elfship-public-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def public_root() -> Iterator[Path]:
    """The cached root sits under root's home (mode 700): bind-mount it where an ordinary user can reach it."""
    mountpoint = Path("/tmp") / f"elfship-unpriv-{os.getpid()}"
    mountpoint.mkdir(exist_ok=True)
    subprocess.run(["mount", "--bind", str(debian_root("bookworm")), str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)
        mountpoint.rmdir()


def _install_public_copy(source: Path) -> None:
    """elfship and the pure-Python runtime dependency `check` uses (packageurl, for the inventory of a static
    file), where nobody can read them: the test's own interpreter lives under root's mode-700 home."""
    import packageurl

    for package in (elfship, packageurl):
        shutil.copytree(Path(package.__file__).parent, source / package.__name__)


def as_nobody(*args: str, source: Path, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "PYTHONPATH": str(source), "HOME": "/tmp"}
    command = [
        shutil.which("setpriv") or "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        str(SYSTEM_PYTHON),
        "-m",
        "elfship",
    ]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=120)


def tools_only(directory: Path, *tools: str) -> str:
    """A PATH holding just these tools: how a machine without bwrap looks to elfship."""
    directory.mkdir(exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"{tool} not installed")
        (directory / tool).symlink_to(found)
    return str(directory)


@pytest.mark.parametrize("method", ["bwrap", "unshare"])
def test_run_without_root(public_root: Path, public_dir: Path, method: str) -> None:
    if shutil.which("setpriv") is None or not SYSTEM_PYTHON.exists():
        pytest.skip("setpriv (util-linux) or /usr/bin/python3 missing")
    if shutil.which(method) is None:
        pytest.skip(
            f"{method} not installed (apt-get install {'bubblewrap' if method == 'bwrap' else 'util-linux'})"
        )
    # The package and the programs must be readable by nobody: copy them out of root-only directories.
    source = public_dir / "src"
    _install_public_copy(source)
    programs = {name: public_dir / name for name in ("static-musl", "host-dynamic", "musl-dynamic")}
    for name, target in programs.items():
        shutil.copy2(MATRIX_BINARIES[name](), target)
    for path in [public_dir, *public_dir.rglob("*")]:
        path.chmod(0o755)
    path_var = tools_only(public_dir / "bin", method)
    probe = as_nobody(
        "check",
        str(programs["static-musl"]),
        "--root",
        str(public_root),
        "--run",
        "--json",
        source=source,
        path=path_var,
    )
    if "user namespaces" in probe.stderr:
        pytest.skip("this kernel does not allow unprivileged user namespaces")
    results = {}
    for name, path in programs.items():
        proc = as_nobody(
            "check", str(path), "--root", str(public_root), "--run", "--json", source=source, path=path_var
        )
        assert proc.returncode in (0, 1), proc.stderr
        (result,) = json.loads(proc.stdout)["results"]
        results[name] = result
        assert result["run"]["method"] == method
        assert result["run"]["prediction_held"] is True, result
    assert results["static-musl"]["run"]["started"] is True
    assert results["musl-dynamic"]["run"]["started"] is False  # no musl loader in a Debian root


def test_unreadable_root_is_a_one_line_error(public_dir: Path) -> None:
    if shutil.which("setpriv") is None or not SYSTEM_PYTHON.exists():
        pytest.skip("setpriv (util-linux) or /usr/bin/python3 missing")
    source = public_dir / "src"
    _install_public_copy(source)
    for path in [public_dir, *public_dir.rglob("*")]:
        path.chmod(0o755)
    hidden = public_dir / "hidden"
    (hidden / "root").mkdir(parents=True)
    hidden.chmod(0o700)
    proc = as_nobody("check", "/bin/true", "--root", str(hidden / "root"), source=source)
    assert proc.returncode == 2
    assert "Permission denied" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
