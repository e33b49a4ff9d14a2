"""`elfship scan`: every ELF file below directories, resolved and summarised."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from benchmarks.hostile_corpus import needed_bomb, version_need_bomb

from elfship.scan import scan
from tests.test_resolve_support import RUNPATH, dep, layout, program, require_host_loader

SCHEMA = json.loads((Path(__file__).parent.parent / "src/elfship/schemas/scan.schema.json").read_text())

pytestmark = pytest.mark.slow


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    require_host_loader()
    prog = program("use_dep.c", [dep()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/../lib"))
    lonely = program("use_dep.c", [dep()], name="lonely")
    top = layout(
        tmp_path / "tree",
        {
            "bin/prog": prog,
            "bin/lonely": lonely,
            "lib/libdep.so.1": dep(),
            "bin/link": "prog",  # symlinks are not followed
            "share/readme.txt": Path(__file__),
        },
    )
    os.link(top / "bin/prog", top / "bin/hardlink")  # the same inode counts once
    (top / "bin/broken").write_bytes(b"\x7fELF" + b"\xff" * 60)
    return top


def run_cli(*args: str, setpriv: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*setpriv, sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=300
    )


def test_a_tree_is_summarised(tree: Path) -> None:
    summary = scan([str(tree)], ld_library_path=[])
    assert summary.files_seen == 5  # prog (= hardlink), lonely, libdep, readme, broken
    assert summary.elf_count == 3
    assert summary.kinds == {"dynamic": 2, "shared-library": 1}
    assert summary.libc_families == {"glibc": 2, "none": 1}  # libdep uses nothing from libc
    assert summary.missing == {"libdep.so.1": (f"{tree}/bin/lonely",)}
    assert [p.path for p in summary.problems] == [f"{tree}/bin/broken"]
    # bin/hardlink and bin/prog are one inode: the first name in directory order stands for both.
    assert summary.highest_glibc is not None
    assert set(summary.highest_glibc_files) == {f"{tree}/bin/hardlink", f"{tree}/bin/lonely"}


def test_two_workers_give_the_same_answer(tree: Path) -> None:
    one = scan([str(tree)], ld_library_path=[], workers=1)
    two = scan([str(tree)], ld_library_path=[], workers=2)
    assert two.workers == 2
    assert (one.files, one.missing, one.problems, one.kinds) == (
        two.files,
        two.missing,
        two.problems,
        two.kinds,
    )


def test_progress_reaches_the_total(tree: Path) -> None:
    seen: list[tuple[int, int]] = []
    scan([str(tree)], ld_library_path=[], progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]


def test_cli_json_follows_the_schema(tree: Path) -> None:
    result = run_cli("scan", "--json", "--ld-library-path", "", str(tree))
    assert result.returncode == 1, result.stderr  # lonely misses libdep
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["missing"] == [{"soname": "libdep.so.1", "needed_by": [f"{tree}/bin/lonely"]}]
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_cli_text(tree: Path) -> None:
    result = run_cli("scan", str(tree))
    assert "3 ELF files among 5 files" in result.stdout
    assert "libdep.so.1  needed by 1 file" in result.stdout
    assert f"{tree}/bin/broken" in result.stdout


def test_a_clean_tree_exits_zero(tree: Path) -> None:
    (tree / "bin/lonely").unlink()
    assert run_cli("scan", str(tree / "bin"), str(tree / "lib")).returncode == 0


def test_a_directory_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("scan", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not a directory" in result.stderr


def test_an_unreadable_directory_is_reported_not_fatal(tree: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not installed (util-linux): needed to drop root's read-anything capability")
    if os.geteuid() != 0:
        pytest.skip("needs root to drop capabilities")
    (tree / "secret").mkdir()
    (tree / "secret").chmod(0)
    try:
        drop = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")
        result = run_cli("scan", "--json", str(tree), setpriv=drop)
        top_level = run_cli("scan", str(tree / "secret"), setpriv=drop)
    finally:
        (tree / "secret").chmod(0o755)
    assert result.returncode == 1, result.stderr
    problems = json.loads(result.stdout)["problems"]
    assert {"path": f"{tree}/secret", "problem": "cannot read directory (Permission denied)"} in problems
    # A directory named on the command line that cannot be read is bad input.
    assert top_level.returncode == 2 and "cannot read" in top_level.stderr


def _children(pid: int) -> list[str]:
    tasks = Path(f"/proc/{pid}/task")
    try:
        return [c for task in tasks.iterdir() for c in (task / "children").read_text().split()]
    except OSError:
        return []


def test_ctrl_c_stops_the_workers_quietly() -> None:
    require_host_loader()
    process = subprocess.Popen(
        [sys.executable, "-m", "elfship", "scan", "/usr/lib", "/usr/bin"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    # Interrupt once the workers run (elfship is then inside main, past its imports): a fixed delay would,
    # on a loaded machine, land in Python's start-up instead and test nothing of ours.
    deadline = time.monotonic() + 60
    while process.poll() is None and not _children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _out, err = process.communicate(timeout=120)
    if process.returncode != 130:
        pytest.skip("the scan finished before it could be interrupted")
    assert err == "elfship: interrupted\n"


# Hostile trees ---------------------------------------------------------------------------------------------


def test_special_files_are_never_opened_and_bombs_are_problem_lines(tree: Path) -> None:
    """A FIFO (open would block), devices, a symlink to /dev/zero and two ELF bombs: the scan finishes, each
    bomb is one problem line, the rest of the tree is answered as before."""
    os.mkfifo(tree / "bin/fifo")
    (tree / "bin/zero").symlink_to("/dev/zero")
    with contextlib.suppress(PermissionError):  # not root: the FIFO and the symlink still make the point
        os.mknod(tree / "bin/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    needed_bomb(tree / "bin/needed-bomb")
    version_need_bomb(tree / "lib/version-bomb")
    result = run_cli("scan", "--json", "--ld-library-path", "", str(tree))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr  # lonely misses libdep
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    problems = {Path(p["path"]).name: p["problem"] for p in document["problems"]}
    assert set(problems) == {"broken", "needed-bomb", "version-bomb"}
    assert "more than 1,024 DT_NEEDED entries" in problems["needed-bomb"]
    assert "more than 4,096 version entries" in problems["version-bomb"]
    assert document["elf_files"] == 3


def test_scan_of_proc_finishes_without_reading_its_files() -> None:
    """/proc/kmsg is a "regular file" whose read drains the kernel log and then blocks: no /proc file is
    long enough to be ELF (they all say size 0), so none is opened."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc mounted")
    result = run_cli("scan", "--json", "/proc")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert document["files_seen"] > 100
    assert not any("kmsg" in p["path"] for p in document["problems"])


def test_scan_stays_on_one_filesystem_unless_asked(tmp_path: Path) -> None:
    """A tmpfs mounted below the scanned directory (in a private mount namespace) is skipped, and named in a
    warning, unless --cross-filesystems."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare not installed (apt-get install util-linux)")
    top = tmp_path / "top"
    (top / "mnt").mkdir(parents=True)
    shutil.copy("/bin/true", top / "true")
    script = (
        f'mount -t tmpfs none "{top}/mnt" && cp /bin/true "{top}/mnt/other" && '
        f'"{sys.executable}" -m elfship scan --json "{top}"; '
        f'"{sys.executable}" -m elfship scan --json --cross-filesystems "{top}"'
    )
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True)
    if "Operation not permitted" in result.stderr or "unshare failed" in result.stderr:
        pytest.skip(f"cannot make a mount namespace here: {result.stderr.strip()}")
    assert "Traceback" not in result.stderr, result.stderr
    decoder = json.JSONDecoder()
    first, end = decoder.raw_decode(result.stdout)
    second, _ = decoder.raw_decode(result.stdout[end:].lstrip())
    assert [f["path"] for f in first["files"]] == [f"{top}/true"]
    assert any(f"{top}/mnt" in w and "--cross-filesystems" in w for w in first["warnings"])
    assert sorted(f["path"] for f in second["files"]) == [f"{top}/mnt/other", f"{top}/true"]


def test_help_documents_cross_filesystems() -> None:
    result = run_cli("scan", "--help")
    assert "--cross-filesystems" in result.stdout and "do not change the exit code" in result.stdout
