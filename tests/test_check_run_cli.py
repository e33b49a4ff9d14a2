"""check --run from the command line: exit codes that tell the truth, --timeout, --unsafe-chroot, bounded
memory under a flood, and roots laid out to lure the run onto the host."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from benchmarks.measure import measure

from elfship.check.run import run_in_root
from tests.support.fixtures import build_c

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a root of our own, --unsafe-chroot)")
SCHEMA = json.loads(
    (Path(__file__).parent.parent / "src/elfship/schemas/check.schema.json").read_text(encoding="utf-8")
)


def elfship(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=timeout
    )


def escape_build(mode: str) -> Path:
    """escape.c with a default mode: check --run passes the program no arguments."""
    return build_c(
        "escape.c", cflags=["-static", "-O1", f'-DDEFAULT_MODE="{mode}"'], out_name=f"escape-{mode}"
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    for directory in ("etc", "tmp", "usr/local/bin", "proc", "dev"):
        (path / directory).mkdir(parents=True)
    (path / "etc" / "os-release").write_text('ID=elfship-test\nVERSION_ID="1"\n')
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1", "abc", "1e999"])
def test_timeout_must_be_positive_and_finite(value: str, root: Path) -> None:
    proc = elfship("check", "/bin/true", "--root", str(root), "--run", "--timeout", value)
    assert proc.returncode == 2
    assert proc.stderr.startswith("elfship: error: --timeout") and len(proc.stderr.splitlines()) == 1


def test_a_run_that_contradicts_the_prediction_exits_1(root: Path) -> None:
    """A static program (predicted RUNS) that says what a failing loader says and exits 127."""
    liar = escape_build("lie")
    proc = elfship("check", str(liar), "--root", str(root), "--run", "--json")
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    (result,) = document["results"]
    assert result["verdict"] == "runs"
    assert result["run"] | {"status": "did-not-start", "prediction_held": False} == result["run"]
    assert "predicted RUNS but it did not start" in proc.stderr
    text = elfship("check", str(liar), "--root", str(root), "--run")
    assert text.returncode == 1 and "PREDICTION WRONG" in text.stdout


def test_a_run_cut_short_before_it_started_is_timed_out(root: Path) -> None:
    """1 ms is less than bwrap needs to set up, so the program is killed before its exec: "timed out", not
    "started". On a loaded machine the parent may first look after the exec (then "started" is the truth),
    so a few tries are allowed for the cut-short case to happen."""
    sleeper = escape_build("sleep")
    for _attempt in range(5):
        proc = elfship("check", str(sleeper), "--root", str(root), "--run", "--timeout", "0.001", "--json")
        jsonschema.validate(json.loads(proc.stdout), SCHEMA)
        (result,) = json.loads(proc.stdout)["results"]
        assert proc.returncode == 0  # unconfirmed or started, never contradicted: the verdict decides
        if result["run"]["status"] == "timed-out":
            break
        assert result["run"]["status"] == "started" and result["run"]["prediction_held"] is True
    assert result["run"]["status"] == "timed-out" and result["run"]["prediction_held"] is None
    for _attempt in range(5):
        text = elfship("check", str(sleeper), "--root", str(root), "--run", "--timeout", "0.001")
        if "timed out before it was shown to have loaded everything" in text.stdout:
            break
    assert "timed out before it was shown to have loaded everything" in text.stdout


def test_a_flood_keeps_elfship_small(root: Path, tmp_path: Path) -> None:
    """GBs on stdout for 4 s: elfship (and everything it waited for) stays under 200 MB of RSS."""
    flood = escape_build("flood")
    command = [sys.executable, "-m", "elfship", "check", str(flood), "--root", str(root), "--run"]
    measured = measure([*command, "--timeout", "4"], timeout=60, cwd=tmp_path)
    assert measured.code == 0, measured.stderr
    assert measured.rss_mb < 200, measured.rss_mb
    text = measured.stdout
    assert "still running at the timeout" in text and len(text) < 100_000


def test_unsafe_chroot_warns_and_cleans_up(root: Path) -> None:
    program = escape_build("")
    proc = elfship("check", str(program), "--root", str(root), "--run", "--unsafe-chroot", "--json")
    assert "elfship: warning: --unsafe-chroot" in proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["run"]["method"] == "chroot" and result["run"]["started"] is True
    assert list((root / "tmp").iterdir()) == []
    alone = elfship("check", str(program), "--root", str(root), "--unsafe-chroot")
    assert alone.returncode == 2 and "--unsafe-chroot only applies to --run" in alone.stderr


def test_symlinks_in_the_root_do_not_lead_the_copy_onto_the_host(root: Path, tmp_path: Path) -> None:
    """ROOT/tmp -> a host directory, then ROOT/usr/local/bin climbing out with ../..: the copy is placed inside
    the sandbox all the same, and the host directories stay empty."""
    host_tmp, host_bin = tmp_path / "host-tmp", tmp_path / "host-bin"
    host_tmp.mkdir()
    host_bin.mkdir()
    program = str(escape_build("write"))
    shutil.rmtree(root / "tmp")
    (root / "tmp").symlink_to(host_tmp)
    outcome = run_in_root(program, root, args=("write", "/tmp/inside"))
    assert (outcome.status, outcome.exit_code) == ("started", 0), outcome
    (root / "tmp").unlink()
    (root / "tmp").mkdir()
    shutil.rmtree(root / "usr/local/bin")
    (root / "usr/local/bin").symlink_to("../../../../../../../../.." + str(host_bin))
    outcome = run_in_root(program, root, args=("write", "/tmp/inside"))
    assert (outcome.status, outcome.exit_code) == ("started", 0), outcome
    assert list(host_tmp.iterdir()) == [] and list(host_bin.iterdir()) == []
    assert list((root / "tmp").iterdir()) == []


def test_a_root_without_tmp_proc_dev_still_runs(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir(mode=0o755)
    outcome = run_in_root(str(escape_build("write")), bare, args=("write", "/tmp/x"))
    assert (outcome.status, outcome.exit_code) == ("started", 0), outcome
    assert sorted(p.name for p in bare.iterdir()) == []


def test_a_root_only_its_owner_may_enter_is_a_one_line_error(root: Path) -> None:
    root.chmod(0o700)
    proc = elfship("check", str(escape_build("write")), "--root", str(root), "--run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and f"chmod o+rx {root}" in proc.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_leaves_nothing_behind(root: Path, tmp_path: Path, signum: int) -> None:
    """Ctrl-C and SIGTERM: exit 130; even SIGKILL (no handler runs) takes the sandbox down with elfship."""
    # A name of its own (comm is the file name): other tests may be running escape-sleep right now.
    sleeper = tmp_path / f"sleep{uuid.uuid4().hex[:10]}"
    shutil.copy(escape_build("sleep"), sleeper)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "elfship",
            "check",
            str(sleeper),
            "--root",
            str(root),
            "--run",
            "--timeout",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not sandboxed_sleepers(sleeper.name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandboxed_sleepers(sleeper.name), "the program never started"
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    if signum != signal.SIGKILL:
        assert process.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
    deadline = time.monotonic() + 10  # after SIGKILL the kernel tears the namespaces down on its own time
    while sandboxed_sleepers(sleeper.name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandboxed_sleepers(sleeper.name) == []
    assert list((root / "tmp").iterdir()) == [] and list((root / "usr/local/bin").iterdir()) == []


def sandboxed_sleepers(name: str) -> list[int]:
    """Live processes running a program of that name from the sandbox (comm is the file name, cut at 15)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name[:15]:
                found.append(int(pid))
        except OSError:
            continue
    return found


def test_musl_loader_list_mode_decides_a_program_still_running(tmp_path: Path) -> None:
    """A root with only musl's loader: a musl-gcc program still running at the timeout is confirmed by
    `ld-musl-x86_64.so.1 --list` in the sandbox; cut short before exec, it is `timed-out`."""
    loader = Path("/lib/ld-musl-x86_64.so.1")
    if not loader.exists():
        pytest.skip("musl not installed (apt-get install musl musl-tools)")
    program = build_c(
        "escape.c", compiler="musl-gcc", cflags=['-DDEFAULT_MODE="sleep"'], out_name="escape-musl"
    )
    musl_root = tmp_path / "musl-root"
    (musl_root / "lib").mkdir(parents=True)
    shutil.copy(loader, musl_root / "lib" / loader.name)  # follows the link: the loader itself
    musl_root.chmod(0o755)
    running = run_in_root(str(program), musl_root, timeout=1)
    assert (running.status, running.started, running.timed_out) == ("started", True, True), running
    cut_short = run_in_root(str(program), musl_root, timeout=0.001)
    assert cut_short.status == "timed-out", cut_short


def _dir_named_like_the_program(root: Path, name: str) -> None:
    (root / "usr/local/bin" / name).mkdir()


def _symlink_loop(root: Path, name: str) -> None:
    shutil.rmtree(root / "usr/local/bin")
    (root / "usr/local/bin").symlink_to("../local/bin")


@pytest.mark.parametrize(
    ("layout", "message"),
    [(_dir_named_like_the_program, "is a directory in the root"), (_symlink_loop, "too many levels")],
)
def test_a_root_that_cannot_take_the_program_is_a_one_line_error(
    root: Path, layout: Callable[[Path, str], None], message: str
) -> None:
    program = escape_build("write")
    layout(root, program.name)
    proc = elfship("check", str(program), "--root", str(root), "--run")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_special_files_where_the_sandbox_mounts_do_not_hang_it(root: Path) -> None:
    """A FIFO where the program goes and at /tmp, /dev a symlink to the host's /dev: replaced, never opened."""
    program = escape_build("write")
    os.mkfifo(root / "usr/local/bin" / program.name)
    (root / "tmp").rmdir()
    os.mkfifo(root / "tmp")
    (root / "dev").rmdir()
    (root / "dev").symlink_to("/dev")
    outcome = run_in_root(str(program), root, args=("write", "/tmp/x"), timeout=20)
    assert (outcome.status, outcome.exit_code) == ("started", 0), outcome
