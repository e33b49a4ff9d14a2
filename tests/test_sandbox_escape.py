"""check --run against programs that try to get out: the host must see none of it.

Each hostile program (tests/fixtures/src/escape.c, built static so any root runs it) is started in a real
Debian root through the real sandbox, with bwrap and with the unshare fallback; the test then looks at the
host: files, the listener, /proc, the root itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from elfship.check.run import run_in_root
from elfship.sandbox import run_sandboxed
from elfship.sandbox.limits import HOST_ID
from tests.support.fixtures import build_c, debian_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to build the Debian root")
METHODS = [m for m in ("bwrap", "unshare") if shutil.which(m)] or pytest.skip(
    "neither bwrap (apt-get install bubblewrap) nor unshare installed", allow_module_level=True
)


@pytest.fixture(scope="module")
def escape() -> Path:
    return build_c("escape.c", cflags=["-static", "-O1"], out_name="escape")


@pytest.fixture(scope="module")
def debian() -> Path:
    return debian_root("bookworm")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root of our own (the cached Debian roots are shared with other tests that write their /tmp), with
    what a static program needs: nothing but the usual directories."""
    path = tmp_path / "root"
    for directory in ("etc", "tmp", "usr/local/bin", "proc", "dev"):
        (path / directory).mkdir(parents=True)
    (path / "etc" / "os-release").write_text('ID=elfship-test\nVERSION_ID="1"\n')
    (path / "tmp").chmod(0o1777)
    path.chmod(0o755)
    return path


def snapshot(root: Path) -> dict[str, float]:
    """What a run could leave behind in the root: entries (and mtimes) of the places a copy would go."""
    seen = {}
    for directory in ("", "tmp", "usr/local/bin", "etc"):
        with os.scandir(root / directory) as entries:
            for entry in entries:
                seen[f"{directory}/{entry.name}"] = entry.stat(follow_symlinks=False).st_mtime
    return seen


def with_marker(marker: str) -> list[int]:
    """Live processes whose command line holds `marker` (the test's own token)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture
def untouched(root: Path) -> Iterator[None]:
    before = snapshot(root)
    yield
    assert snapshot(root) == before, "the run left something in the root"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", ["chroot", "write"])
def test_no_file_reaches_the_host(
    escape: Path, root: Path, tmp_path: Path, method: str, mode: str, untouched: None
) -> None:
    for target in (tmp_path / "escaped", Path("/etc/elfship-escaped")):
        run = run_sandboxed(root, ["/usr/local/bin/escape", mode, str(target)], program=escape, method=method)
        assert run.method == method
        assert not target.exists(), run.stdout
        assert not (root / str(target).lstrip("/")).exists()
        assert "wrote" not in run.stdout  # nowhere: the root is read-only, host paths are not there
        if mode == "chroot":
            assert "chroot: Operation not permitted" in run.stdout  # no CAP_SYS_CHROOT in the sandbox


@pytest.mark.parametrize("method", METHODS)
def test_no_connection_to_a_host_listener(escape: Path, debian: Path, method: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = str(listener.getsockname()[1])
        argv = ["/usr/local/bin/escape", "connect", port]
        run = run_sandboxed(debian, argv, program=escape, method=method)
        # Its own network namespace: a loopback of its own (bwrap brings it up) or no network at all.
        assert run.stdout.startswith("connect: ") and "connected" not in run.stdout, run.stdout + run.stderr
        with pytest.raises(TimeoutError):
            listener.accept()


@pytest.mark.parametrize("method", METHODS)
def test_a_daemon_does_not_outlive_the_run(
    escape: Path, root: Path, tmp_path: Path, method: str, untouched: None
) -> None:
    marker = f"elfship-test-{uuid.uuid4().hex}"
    target = tmp_path / "daemon-wrote"
    argv = ["/usr/local/bin/escape", "daemon", str(target), marker]
    run = run_sandboxed(root, argv, program=escape, method=method)
    assert run.exit_code == 0 and not run.timed_out
    assert with_marker(marker) == []  # gone at once, not after its sleep
    time.sleep(3)  # the daemon would have written by now
    assert not target.exists()


@pytest.mark.parametrize("method", METHODS)
def test_a_fork_bomb_is_capped_and_killed(escape: Path, root: Path, method: str) -> None:
    marker = f"elfship-test-{uuid.uuid4().hex}"
    peak = [0]
    done = threading.Event()

    def count_sandbox_processes() -> None:  # the sandbox runs as HOST_ID: RLIMIT_NPROC caps that uid
        while not done.is_set():
            peak[0] = max(peak[0], len(owned_by(HOST_ID)))
            time.sleep(0.05)

    sampler = threading.Thread(target=count_sandbox_processes)
    sampler.start()
    started = time.monotonic()
    try:
        argv = ["/usr/local/bin/escape", "forkbomb", "-", marker]
        run = run_sandboxed(root, argv, program=escape, timeout=3, method=method)
    finally:
        done.set()
        sampler.join()
    assert run.timed_out
    assert time.monotonic() - started < 20
    # It forked, and stopped at the limit (+ the sandbox's own processes, + other sandboxes running now).
    assert 10 < peak[0] <= 256 + 16, peak
    assert with_marker(marker) == []


def owned_by(uid: int) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("method", METHODS)
def test_a_flood_of_output_is_read_through_a_bounded_buffer(escape: Path, root: Path, method: str) -> None:
    run = run_sandboxed(root, ["/usr/local/bin/escape", "flood"], program=escape, timeout=3, method=method)
    assert run.timed_out
    assert run.stdout_bytes > 20 * 2**20, run.stdout_bytes  # it really flooded...
    assert len(run.stdout) < 64 * 1024  # ...and elfship kept the head and the tail only
    assert "bytes not kept" in run.stdout


@pytest.mark.parametrize("method", METHODS)
def test_sleeping_past_the_timeout(escape: Path, root: Path, method: str, untouched: None) -> None:
    marker = f"elfship-test-{uuid.uuid4().hex}"
    started = time.monotonic()
    outcome = run_in_root(str(escape), root, args=("sleep", "-", marker), timeout=2, method=method)
    assert time.monotonic() - started < 10
    # Static: nothing to load, and the sandbox had exec'd it: it started.
    assert (outcome.status, outcome.started, outcome.timed_out) == ("started", True, True)
    assert with_marker(marker) == []


@pytest.mark.parametrize("method", METHODS)
def test_a_dynamic_program_still_running_is_confirmed_by_its_loader(debian: Path, method: str) -> None:
    """The root's own /usr/bin/sleep, still running at the timeout: ld.so --list (in the sandbox) decides."""
    sleep = str(debian / "usr/bin/sleep")
    outcome = run_in_root(sleep, debian, args=("600",), timeout=2, method=method)
    assert (outcome.status, outcome.started) == ("started", True), outcome
    cut_short = run_in_root(sleep, debian, args=("600",), timeout=0.001, method=method)
    assert (cut_short.status, cut_short.started) == ("timed-out", False), cut_short
