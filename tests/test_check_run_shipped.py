"""check --run with a program from outside the root whose library travels with it ($ORIGIN/../lib): the run
places the library where the prediction placed it, so the prediction holds, with every sandbox method, and
nothing is written into the root.

The root is an overlay over the cached Debian root: whatever a run wrote would land in the overlay's upper
directory, which must stay empty (the cached root is shared with tests running at the same time)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from elfship.errors import ElfshipError
from elfship.sandbox.bwrap import bwrap_argv
from elfship.sandbox.plan import make_plan
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c, debian_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay mount, --unsafe-chroot)")


def _which(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} not installed")
    return found


@pytest.fixture(scope="module")
def program() -> Path:
    return build_c(
        "uses_shared.c",  # exits 0 only when shared_answer() from libversioned.so.1 returns 42
        ldflags=[str(versioned_library()), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib"],
        out_name="app-origin-run",
    )


@pytest.fixture
def app(tmp_path: Path, program: Path) -> Path:
    """An application directory: bin/app and lib/libversioned.so.1, the soname a link to the real file
    (how libraries are usually shipped)."""
    (tmp_path / "app" / "bin").mkdir(parents=True)
    (tmp_path / "app" / "lib").mkdir()
    shutil.copy(program, tmp_path / "app" / "bin" / "app")
    shutil.copy(versioned_library(), tmp_path / "app" / "lib" / "libversioned.so.1.0.0")
    (tmp_path / "app" / "lib" / "libversioned.so.1").symlink_to("libversioned.so.1.0.0")
    return tmp_path / "app" / "bin" / "app"


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    layers = {name: tmp_path / name for name in ("upper", "work", "root")}
    for directory in layers.values():
        directory.mkdir()
    options = f"lowerdir={debian_root('bookworm')},upperdir={layers['upper']},workdir={layers['work']}"
    mounted = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(layers["root"])],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"overlayfs not available here: {mounted.stderr.strip()}")
    layers["root"].chmod(0o755)
    try:
        yield layers["root"]
    finally:
        subprocess.run(["umount", str(layers["root"])], check=False)


def written(root: Path, *, staged: bool = False) -> list[str]:
    """Everything a run left in the root: the overlay's upper directory. staged: the root's /tmp may have
    been copied up (--unsafe-chroot stages its copies there and removes them again), empty."""
    upper = root.parent / "upper"
    found = sorted(str(path.relative_to(upper)) for path in upper.rglob("*"))
    return [path for path in found if not (staged and path == "tmp")]


def check_run(
    app: Path, root: Path, *extra: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(
        [sys.executable, "-m", "elfship", "check", str(app), "--root", str(root), "--run", "--json", *extra],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """The sandbox tool is started as an unprivileged host uid with a tmpfs over /tmp (sandbox/host.py):
    a PATH entry under /tmp is out of its reach."""
    path = Path(tempfile.mkdtemp(prefix="elfship-public-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def only(directory: Path, tool: str) -> str:
    """A PATH with this sandbox tool alone: how a machine without the others looks to elfship."""
    (directory / tool).symlink_to(_which(tool))
    return str(directory)


@pytest.mark.parametrize("method", ["bwrap", "unshare", "chroot"])
@pytest.mark.parametrize("at", [None, "/opt/app/bin/"])
def test_the_shipped_library_is_placed_for_the_run(
    app: Path, root: Path, public_dir: Path, method: str, at: str | None
) -> None:
    extra = ["--at", at] if at else []
    if method == "chroot":
        proc = check_run(app, root, *extra, "--unsafe-chroot")
    else:
        proc = check_run(app, root, *extra, path=only(public_dir, method))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    placed = "/opt/app/bin/app" if at else "/usr/local/bin/app"
    assert result["placed_at"] == placed
    (along,) = [f for f in result["findings"] if f["kind"] == "shipped-along"]
    (library,) = along["libraries"]
    assert library["placed_at"] == placed.replace("bin/app", "lib/libversioned.so.1")
    run = result["run"]
    assert (run["method"], run["status"], run["exit_code"]) == (method, "started", 0), run
    assert run["prediction_held"] is True and result["verdict"] == "runs"
    assert written(root, staged=method == "chroot") == []


def test_without_the_library_beside_it_the_prediction_and_the_run_agree(app: Path, root: Path) -> None:
    """The same program with nothing beside it: predicted FAILS, and the run (with nothing to place) fails."""
    (app.parent.parent / "lib" / "libversioned.so.1").unlink()
    proc = check_run(app, root)
    (result,) = json.loads(proc.stdout)["results"]
    assert result["verdict"] == "fails" and result["run"]["status"] == "did-not-start", result
    assert result["run"]["prediction_held"] is True and proc.returncode == 1
    assert written(root) == []


def test_the_plan_places_each_file_once_with_its_own_fd(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for name in ("tmp", "proc", "dev", "opt"):
        (root / name).mkdir(parents=True)
    plan = make_plan(
        root,
        str(root),
        "/opt/app/bin/app",
        place_program=True,
        tmp_size=1 << 20,
        along=["/opt/app/lib/libx.so.1"],
    )
    ops = [(op.kind, op.dest, op.source) for op in plan.ops]
    made = [dest for kind, dest, _ in ops if kind == "dir"]
    assert made == ["/opt/app", "/opt/app/bin", "/opt/app/lib"]  # each once, parents first
    assert [op for op in ops if op[0] == "file"] == [
        ("file", "/opt/app/bin/app", "0"),
        ("file", "/opt/app/lib/libx.so.1", "1"),
    ]
    argv = bwrap_argv("/usr/bin/bwrap", plan, ["/opt/app/bin/app"], (7, 8))
    assert argv[argv.index("/opt/app/lib/libx.so.1") - 2 :][:2] == ["--ro-bind-data", "8"]
    assert argv[argv.index("/opt/app/bin/app") - 1] == "7"
    with pytest.raises(ElfshipError, match="two files"):
        make_plan(root, str(root), "/opt/a", place_program=True, tmp_size=1 << 20, along=["/opt/./a"])
