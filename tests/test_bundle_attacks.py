"""Self-extracting bundles under attack by another local user, for both launchers (C and POSIX sh).

As root, a scene with two other users is set up: `nobody` runs the bundle, uid 4242 plants things in the
shared temporary directory first. The bundle must refuse every base it cannot trust (and fall back to
~/.cache/elfship), never chmod or run what the other user planted, and tell a corrupt payload apart.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures import build_c
from tests.test_bundle_common import (
    ATTACKER,
    VICTIM,
    Scene,
    bundle,
    hostile_scene,
    payload_hash,
    plant_program,
    require_setpriv,
    run_as_victim,
    tree_state,
)

pytestmark = pytest.mark.slow

REAL_OUTPUT = "the real program\n"
LAUNCHERS = ("c", "sh")


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Path]]:
    """victim.run built with each launcher, in a directory nobody can read."""
    require_setpriv()
    program = build_c("bundle/victim.c")
    public = Path(tempfile.mkdtemp(prefix="elfship-runs-", dir="/tmp"))
    public.chmod(0o755)
    for launcher in LAUNCHERS:
        (public / launcher).mkdir()
    try:
        built = {
            "c": bundle(program, public / "c" / "victim.run"),
            "sh": bundle(program, public / "sh" / "victim.run", "--launcher", "sh"),
        }
        for path in [*public.rglob("*")]:
            path.chmod(0o755)
        if built["c"].read_bytes()[:4] != b"\x7fELF":
            pytest.skip("no C compiler for the static launcher (apt-get install musl-tools)")
        yield built
    finally:
        subprocess.run(["rm", "-rf", str(public)], check=False)


@pytest.fixture
def scene() -> Iterator[Scene]:
    with hostile_scene() as made:
        yield made


def _assert_fell_back_untouched(done: subprocess.CompletedProcess[str], scene: Scene, hash_: str) -> None:
    assert (done.returncode, done.stdout) == (0, REAL_OUTPUT), done.stderr
    assert not scene.marker.exists(), "the other user's program ran"
    assert (scene.home_base / hash_ / "libexec" / "victim").exists()
    assert stat.S_IMODE(scene.home_base.stat().st_mode) == 0o700


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_first_start_makes_a_private_base(runs: dict[str, Path], scene: Scene, launcher: str) -> None:
    done = run_as_victim(runs[launcher], scene)
    assert (done.returncode, done.stdout) == (0, REAL_OUTPUT), done.stderr
    info = scene.base.lstat()
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == VICTIM and stat.S_IMODE(info.st_mode) == 0o700
    assert os.listdir(scene.base) == [payload_hash(runs[launcher])]  # no temporary directory left


@pytest.mark.parametrize("launcher", LAUNCHERS)
@pytest.mark.parametrize("target_owner", [VICTIM, ATTACKER], ids=["target-victims", "target-attackers"])
def test_planted_symlink_is_neither_followed_nor_chmodded(
    runs: dict[str, Path], scene: Scene, launcher: str, target_owner: int
) -> None:
    hash_ = payload_hash(runs[launcher])
    evil = scene.top / "evil"  # where the link points: holds a ready "unpacked copy"
    plant_program(evil / hash_, "victim", scene.marker, ATTACKER)
    os.chown(evil, target_owner, target_owner)
    evil.chmod(0o777)  # a directory the victim owns (or not) that anyone can write: chmod 700 would "fix" it
    os.symlink(evil, scene.base)
    os.lchown(scene.base, ATTACKER, ATTACKER)
    before = tree_state(evil)
    done = run_as_victim(runs[launcher], scene)
    _assert_fell_back_untouched(done, scene, hash_)
    assert tree_state(evil) == before, "the link's target was changed"
    assert os.readlink(scene.base) == str(evil) and scene.base.lstat().st_uid == ATTACKER


# (owner, mode) of a directory found at $TMPDIR/elfship-UID that must not be used.
FOREIGN_BASES = {
    "attackers-0755": (ATTACKER, 0o755),
    "attackers-0777": (ATTACKER, 0o777),
    "victims-world-writable": (VICTIM, 0o777),
    "victims-group-writable": (VICTIM, 0o770),
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
@pytest.mark.parametrize("kind", sorted(FOREIGN_BASES))
def test_foreign_or_writable_base_is_refused(
    runs: dict[str, Path], scene: Scene, launcher: str, kind: str
) -> None:
    owner, mode = FOREIGN_BASES[kind]
    hash_ = payload_hash(runs[launcher])
    plant_program(scene.base / hash_, "victim", scene.marker, ATTACKER)
    os.chown(scene.base, owner, owner)
    scene.base.chmod(mode)
    before = tree_state(scene.base)
    done = run_as_victim(runs[launcher], scene)
    _assert_fell_back_untouched(done, scene, hash_)
    assert tree_state(scene.base) == before


def _corrupt_middle(run_file: Path, into: Path) -> Path:
    """The .run file with 64 bytes in the middle of its payload zeroed (a bad download)."""
    data = bytearray(run_file.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    into.write_bytes(bytes(data))
    into.chmod(0o755)
    return into


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_corrupt_payload_is_reported_as_such(runs: dict[str, Path], scene: Scene, launcher: str) -> None:
    broken = _corrupt_middle(runs[launcher], scene.top / "broken.run")
    done = run_as_victim(broken, scene)
    assert done.returncode == 127 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"elfship launcher: corrupt payload in {broken}"), line
    assert "(fix: download the bundle again, or rebuild it with elfship bundle)" in line
    assert "no writable cache directory" not in line
    assert os.listdir(scene.base) == []  # nothing published, no temporary directory left
    assert not scene.home_base.exists()  # and no other base tried: the payload, not the base, is at fault


def test_sh_stub_under_busybox(runs: dict[str, Path], scene: Scene) -> None:
    """The sh stub's checks with another implementation of sh, ls, tar and gzip (busybox, as on small
    systems): a first start works, a planted symlink is refused, a corrupt payload is reported."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        pytest.skip("busybox not installed (apt-get install busybox)")
    tools = scene.top / "busybox-bin"
    tools.mkdir()
    for tool in ("sh", "ls", "tar", "gzip", "tail", "id", "mkdir", "chmod", "rm", "mv", "ln", "cat", "pwd"):
        (tools / tool).symlink_to(busybox)
    tools.chmod(0o755)
    hash_ = payload_hash(runs["sh"])
    evil = scene.top / "evil"
    plant_program(evil / hash_, "victim", scene.marker, VICTIM)
    evil.chmod(0o777)
    os.symlink(evil, scene.base)
    shell = str(tools / "sh")
    done = run_as_victim(runs["sh"], scene, path=str(tools), shell=shell)
    assert "not found" not in done.stderr, done.stderr  # really ran busybox's tools only
    _assert_fell_back_untouched(done, scene, hash_)
    assert stat.S_IMODE(evil.stat().st_mode) == 0o777
    shutil.rmtree(scene.home_base)  # the corrupt copy has the same hash: it must really unpack
    broken = _corrupt_middle(runs["sh"], scene.top / "broken.run")
    done = run_as_victim(broken, scene, path=str(tools), shell=shell)
    assert done.returncode == 127 and "corrupt payload" in done.stderr, done.stderr
    assert os.listdir(scene.home_base) == []


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_root_does_not_run_what_a_user_planted(runs: dict[str, Path], scene: Scene, launcher: str) -> None:
    """The reported case: root starts a .run while another user's symlink sits at $TMPDIR/elfship-0, pointing
    at a root-owned world-writable directory (like /var/tmp) where that user left a ready "unpacked copy"."""
    hash_ = payload_hash(runs[launcher])
    shared = scene.top / "var-tmp"
    plant_program(shared / hash_, "victim", scene.marker, ATTACKER)
    shared.chmod(0o1777)
    planted = scene.tmp / "elfship-0"
    os.symlink(shared, planted)
    os.lchown(planted, ATTACKER, ATTACKER)
    before = tree_state(shared)
    home = scene.top / "root-home"
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(scene.tmp), "HOME": str(home), "LANG": "C"}
    done = subprocess.run(
        [str(runs[launcher])], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert (done.returncode, done.stdout) == (0, REAL_OUTPUT), done.stderr
    assert not scene.marker.exists(), "root ran the other user's program"
    assert tree_state(shared) == before, "root changed the link's target"
    assert (home / ".cache/elfship" / hash_ / "libexec/victim").exists()
