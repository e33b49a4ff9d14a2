"""aarch64, proven: `elfship build --for debian:12/aarch64` (musl and glibc-pinned, std built from source with
Debian's rustc-web and rust-web-src, linked by zig) makes binaries that run in a complete arm64 Debian 12 root
under qemu-user, and `check --run` starts them there through qemu inside the sandbox.

Ground truth is the kernel itself: chroot into the arm64 root with qemu-aarch64 registered in binfmt_misc
(flag F) for the length of the run only. The std builds (~4 minutes each, cold) and the arm64 root (~5 minutes,
its second stage under qemu) are cached under ~/.cache/elfship-tests.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from elfship.builder.toolchain import find_zig
from elfship.check.run import run_in_root
from elfship.resolve.rootfs import FileView, read_elf_located
from elfship.sandbox import find_emulator
from elfship.targets import get_target, target_from_root
from elfship.targets.root import scan_libraries
from tests.support.fixtures import CACHE, binfmt_for, build_c, debian_root, no_binfmt_for_aarch64, qemu_static
from tests.test_build_e2e import CARGO_FIXTURES, artifact_path, elfship, run_there
from tests.test_build_musl import require_std_source

AARCH64_TARGET_DIR = CACHE / "cargo-target" / "aarch64"
SCHEMA = Path(__file__).resolve().parent.parent / "src" / "elfship" / "schemas" / "check.schema.json"
HELLO = "Hello, world!\n"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and debootstrap need root"),
]


@pytest.fixture(scope="module", autouse=True)
def aarch64_tools() -> None:
    """Skip naming what is missing (scripts/setup.sh installs all of it, so CI never skips)."""
    qemu_static("aarch64")
    if find_zig() is None:
        pytest.skip("zig not found (pip install ziglang)")
    require_std_source()


@pytest.fixture(scope="module")
def arm64_root() -> Path:
    return debian_root("bookworm", "arm64")


def build(strategy: str, out: Path) -> dict[str, object]:
    done = elfship(
        "build", "--json", "--for", "debian:12/aarch64", "--strategy", strategy, "--build-std", "--release",
        "-o", str(out), cwd=CARGO_FIXTURES / "hello", env={"CARGO_TARGET_DIR": str(AARCH64_TARGET_DIR)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    document: dict[str, object] = json.loads(done.stdout)
    return document


@pytest.fixture(scope="module")
def musl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    document = build("musl", tmp_path_factory.mktemp("aarch64-musl"))
    return artifact_path(document), document


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    document = build("glibc-pinned", tmp_path_factory.mktemp("aarch64-pinned"))
    return artifact_path(document), document


def facts(binary: Path) -> dict[str, object]:
    done = elfship("inspect", "--json", str(binary), cwd=binary.parent)
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)["files"][0]
    return found


def check(*args: str) -> tuple[int, dict[str, object]]:
    done = elfship("check", "--json", *args, cwd=Path("/"))
    assert done.returncode in (0, 1), done.stderr
    document: dict[str, object] = json.loads(done.stdout)
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema not installed (pip install jsonschema)")
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    (result,) = document["results"]  # type: ignore[misc]
    return done.returncode, result


def test_musl_build_is_a_static_aarch64_executable(musl: tuple[Path, dict[str, object]]) -> None:
    binary, document = musl
    assert document["triple"] == "aarch64-unknown-linux-musl" and document["strategy"] == "musl"
    env = document["cargo"]["env"]  # type: ignore[index]
    assert "zigcc-aarch64-linux-musl" in env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER"]
    found = facts(binary)
    assert found["machine"] == "aarch64" and found["interpreter"] is None and found["needed"] == []
    (checked,) = document["artifacts"][0]["checks"]  # type: ignore[index]
    assert checked["target"] == "debian:12" and checked["verdict"] == "runs"


def test_pinned_build_needs_only_debian_12s_arm64_glibc(pinned: tuple[Path, dict[str, object]]) -> None:
    binary, document = pinned
    assert document["triple"] == "aarch64-unknown-linux-gnu" and document["glibc_pin"] == "2.36"
    found = facts(binary)
    assert found["machine"] == "aarch64" and found["interpreter"] == "/lib/ld-linux-aarch64.so.1"
    (checked,) = document["artifacts"][0]["checks"]  # type: ignore[index]
    assert checked["verdict"] == "runs"


@pytest.mark.parametrize("flavour", ["musl", "pinned"])
def test_it_runs_in_the_arm64_root_under_the_kernel(
    flavour: str, request: pytest.FixtureRequest, arm64_root: Path
) -> None:
    binary, _ = request.getfixturevalue(flavour)
    with binfmt_for("arm64"):
        ran = run_there(arm64_root, binary, f"aarch64-{flavour}")
    assert (ran.returncode, ran.stdout) == (0, HELLO), ran.stderr


@pytest.mark.parametrize("flavour", ["musl", "pinned"])
def test_check_run_starts_it_through_qemu_in_the_sandbox(
    flavour: str, request: pytest.FixtureRequest, arm64_root: Path
) -> None:
    binary, _ = request.getfixturevalue(flavour)
    code, result = check(str(binary), "--root", str(arm64_root), "--run")
    assert code == 0 and result["arch"] == "aarch64" and result["verdict"] == "runs"
    run = result["run"]
    assert run["emulator"] == "qemu-aarch64" and run["method"] in ("bwrap", "unshare")  # type: ignore[index]
    assert (run["status"], run["exit_code"], run["prediction_held"]) == ("started", 0, True)  # type: ignore[index]
    text = elfship("check", str(binary), "--root", str(arm64_root), "--run", cwd=Path("/"))
    assert "through qemu-aarch64): started, exited with 0; prediction held" in text.stdout


def test_the_named_target_runs_it_and_x86_64_does_not(pinned: tuple[Path, dict[str, object]]) -> None:
    binary, _ = pinned
    code, named = check(str(binary), "--target", "debian:12/aarch64")
    assert code == 0 and (named["target"], named["arch"], named["verdict"]) == (
        "debian:12",
        "aarch64",
        "runs",
    )
    assert check(str(binary), "--target", "debian:12") == (0, named)  # the file's own architecture by default
    code, result = check(str(binary), "--target", "debian:12/x86_64")
    assert code == 1 and result["verdict"] == "fails"
    assert [f["kind"] for f in result["findings"]] == ["wrong-architecture"]  # type: ignore[index]


def test_an_x86_64_root_refuses_it_without_qemu(
    pinned: tuple[Path, dict[str, object]], arm64_root: Path
) -> None:
    """A root of another architecture than the program's: no emulation (that machine would refuse it)."""
    binary, _ = pinned
    code, result = check(str(binary), "--root", str(debian_root("bookworm")), "--run")
    assert code == 1 and [f["kind"] for f in result["findings"]] == ["wrong-architecture"]  # type: ignore[index]
    run = result["run"]
    assert run["emulator"] is None and run["status"] == "did-not-start" and run["prediction_held"] is True  # type: ignore[index]


def test_without_qemu_the_kernel_refuses_it_as_before(
    pinned: tuple[Path, dict[str, object]], arm64_root: Path
) -> None:
    """No qemu on PATH (only bwrap): the answer without an emulator, exec refused => did not start."""
    binary, _ = pinned
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bwrap not installed (apt-get install bubblewrap)")
    # Not under /tmp (as root, the sandbox's set-up covers it before bwrap runs) and open to the unprivileged
    # uid that runs bwrap then.
    tools = Path(tempfile.mkdtemp(prefix="elfship-no-qemu-", dir="/var/tmp"))
    tools.chmod(0o755)
    try:
        (tools / "bwrap").symlink_to(bwrap)
        assert find_emulator("aarch64", path=str(tools)) is None
        with no_binfmt_for_aarch64():
            done = elfship(
                "check", "--json", str(binary), "--root", str(arm64_root), "--run", cwd=Path("/"),
                env={"PATH": str(tools)},
            )  # fmt: skip
    finally:
        shutil.rmtree(tools)
    (result,) = json.loads(done.stdout)["results"]
    assert result["run"]["emulator"] is None and result["run"]["status"] == "did-not-start", done.stderr
    assert "Exec format error" in result["run"]["stderr"]
    assert done.returncode == 1  # predicted RUNS, and this machine cannot start it: said, not hidden


def test_the_complete_arm64_root_defines_what_the_aarch64_data_says(arm64_root: Path) -> None:
    """The generator read the `--foreign` root (packages unpacked, nothing run); after stage two under qemu the
    base sonames and version nodes are the same, and the root is recognised as debian:12 on aarch64."""
    target = get_target("debian:12", arch="aarch64")
    libraries = scan_libraries(FileView(arm64_root))
    assert set(libraries) == target.base_sonames
    for soname, found in libraries.items():
        for node in read_elf_located(found).version_definitions:
            assert target.provides_version(soname, node) is not False or node.endswith("_PRIVATE"), (
                soname,
                node,
            )
    from_root = target_from_root(arm64_root)
    assert (from_root.name, from_root.arch) == ("debian:12", "aarch64")


def test_a_program_still_running_is_confirmed_by_the_arm64_loader_through_qemu(arm64_root: Path) -> None:
    """At the timeout the root's own ld-linux-aarch64.so.1 --list runs through qemu too, in the sandbox."""
    sleeper = build_c(
        "escape.c", compiler="zig", zig_target="aarch64-linux-gnu.2.17", cflags=['-DDEFAULT_MODE="sleep"'],
        out_name="escape-sleep-aarch64",
    )  # fmt: skip
    code, result = check(str(sleeper), "--root", str(arm64_root), "--run", "--timeout", "3")
    run = result["run"]
    assert code == 0 and run["emulator"] == "qemu-aarch64" and run["timed_out"] is True  # type: ignore[index]
    assert (run["status"], run["prediction_held"]) == ("started", True)  # type: ignore[index]


def test_the_unshare_sandbox_runs_it_through_qemu_too(
    musl: tuple[Path, dict[str, object]], arm64_root: Path
) -> None:
    """The fallback without bwrap places the same qemu copy (src/elfship/sandbox/inner.py)."""
    binary, _ = musl
    if shutil.which("unshare") is None:
        pytest.skip("unshare not installed (util-linux)")
    outcome = run_in_root(str(binary), arm64_root, method="unshare")
    assert (outcome.method, outcome.emulator, outcome.status, outcome.exit_code) == (
        "unshare",
        "qemu-aarch64",
        "started",
        0,
    )
