"""check --target judges every version need exactly where the release's libraries were measured, says
`unknown` where they were not, and agrees with the real loader of the Debian minbase roots."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from elfship.check import check_in_root, check_info, check_path
from elfship.check.model import CheckResult
from elfship.elf import read_elf
from elfship.resolve.rootfs import FileView, read_elf_located
from elfship.targets import get_target, target_from_root
from elfship.targets.root import scan_libraries
from tests.support.binaries import versioned_library
from tests.support.fixtures import MIRROR, ROOTS, build_c, copy_fixture, debian_root, file_lock, run_in_root

SCHEMA = json.loads(resources.files("elfship").joinpath("schemas/check.schema.json").read_text())
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chroot and debootstrap need root")


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=300
    )


def missing_pairs(result: CheckResult) -> set[tuple[str, str]]:
    """(library, version) pairs the program itself needs and the target lacks, as errors."""
    return {
        (f.evidence["library"], version)
        for f in result.errors
        if f.kind in ("version-too-new", "private-version") and not f.evidence.get("needed_by")
        for version in f.evidence["versions"]
    }


def missing_sonames(result: CheckResult) -> set[str]:
    return {
        f.evidence["library"] for f in result.errors if f.kind in ("library-missing", "library-not-in-base")
    }


# -- the data: every node of every base library, as the roots define them today --------------------------


@needs_root
@pytest.mark.parametrize(("suite", "name"), [("bullseye", "debian:11"), ("bookworm", "debian:12")])
def test_packaged_nodes_are_what_the_root_defines(suite: str, name: str) -> None:
    root = debian_root(suite)
    target = get_target(name)
    libraries = scan_libraries(FileView(root))
    assert set(libraries) == target.base_sonames
    for soname, found in libraries.items():
        info = read_elf_located(found)
        assert target.nodes_measured(soname), soname
        for node in info.version_definitions:
            assert target.provides_version(soname, node) is not False or node.endswith("_PRIVATE"), (
                soname,
                node,
            )
        assert target.provides_version(soname, "NOT_A_NODE_9.9") is False


def test_non_glibc_nodes_are_known() -> None:
    debian12 = get_target("debian:12")
    assert debian12.provides_version("liblzma.so.5", "XZ_5.4") is True
    assert debian12.provides_version("liblzma.so.5", "XZ_5.6.0") is False
    assert debian12.provides_version("libsystemd.so.0", "LIBSYSTEMD_252") is True
    assert debian12.provides_version("libsystemd.so.0", "LIBSYSTEMD_254") is False
    assert get_target("debian:13").provides_version("libsystemd.so.0", "LIBSYSTEMD_254") is True
    # Per library, as the loader looks: libm defines GLIBC_2.29 (exp, pow); libdl does not.
    assert debian12.provides_version("libm.so.6", "GLIBC_2.29") is True
    assert debian12.provides_version("libdl.so.2", "GLIBC_2.29") is False
    # A library with no .gnu.version_d provides no version (ld.so then stops at the first bound symbol).
    assert debian12.provides_version("libzstd.so.1", "ZSTD_1.0") is False
    # Not measured per library (ubuntu): only the namespaces measured in the image answer.
    assert get_target("ubuntu:22.04").provides_version("liblzma.so.5", "XZ_5.2") is None
    assert debian12.measured_libraries() == len(debian12.base_sonames or ()) > 50
    assert get_target("ubuntu:22.04").measured_libraries() is None
    shown = json.loads(elfship("targets", "debian:12", "ubuntu:22.04", "--json").stdout)["targets"]
    assert [t["library_nodes_count"] for t in shown] == [debian12.measured_libraries(), None]


# -- real binaries against the real loader ---------------------------------------------------------------


def _lzma56() -> Path:
    liblzma = debian_root("trixie") / "usr/lib/x86_64-linux-gnu/liblzma.so.5"
    return build_c(
        "uses_lzma56.c",
        ldflags=[str(liblzma), "-Wl,--allow-shlib-undefined", "-Wl,-z,now"],
        out_name="lzma56",
    )


@needs_root
def test_xz_5_6_need_fails_on_debian12_as_its_loader_says() -> None:
    path = _lzma56()
    result = check_path(str(path), get_target("debian:12"))
    assert result.verdict == "fails"
    assert missing_pairs(result) == {("liblzma.so.5", "XZ_5.6.0")}
    (finding,) = result.errors
    assert finding.evidence["symbols"]["XZ_5.6.0"] == ["lzma_mt_block_size"]
    assert "offers up to XZ_5.4" in finding.message
    truth = run_in_root(debian_root("bookworm"), path)
    assert truth.returncode != 0 and "version `XZ_5.6.0' not found" in truth.stderr
    assert check_path(str(path), get_target("debian:13")).verdict == "runs"
    assert run_in_root(debian_root("trixie"), path).returncode == 0


@needs_root
def test_who_from_debian13_needs_libsystemd_254() -> None:
    who = debian_root("trixie") / "usr/bin/who"
    result = check_path(str(who), get_target("debian:12"))
    assert result.verdict == "fails"
    assert missing_pairs(result) == {("libsystemd.so.0", "LIBSYSTEMD_254")}
    truth = run_in_root(debian_root("bookworm"), who)
    assert "version `LIBSYSTEMD_254' not found" in truth.stderr
    proc = elfship("check", str(who), "-t", "debian:12")
    assert (
        proc.returncode == 1
        and "LIBSYSTEMD_254" in proc.stdout
        and "offers up to LIBSYSTEMD_252" in proc.stdout
    )


@needs_root
def test_gcc_runtimes_are_not_assumed_on_debian_minbase() -> None:
    path = build_c("uses_gcc_runtimes.c", cflags=["-fopenmp"], ldflags=["-Wl,--no-as-needed", "-latomic"])
    result = check_path(str(path), get_target("debian:12"))
    assert missing_sonames(result) == {"libatomic.so.1", "libgomp.so.1"}
    install = {f.evidence["library"]: f.evidence["install"] for f in result.errors}
    assert install == {
        "libatomic.so.1": "apt-get install libatomic1",
        "libgomp.so.1": "apt-get install libgomp1",
    }
    truth = run_in_root(debian_root("bookworm"), path)
    assert truth.returncode == 127 and "libatomic.so.1" in truth.stderr
    # Where the base system was never measured, neither is assumed: unknown, not runs.
    assert check_path(str(path), get_target("rhel:9")).verdict == "unknown"


@needs_root
def test_private_glibc_node_is_its_own_finding_next_to_a_too_new_one() -> None:
    getent = debian_root("trixie") / "usr/bin/getent"
    result = check_path(str(getent), get_target("debian:12"))
    kinds = {(f.kind, tuple(f.evidence["versions"])) for f in result.errors}
    assert kinds == {("version-too-new", ("GLIBC_2.38",)), ("private-version", ("GLIBC_PRIVATE",))}


# -- unknown is a verdict, and --assume-present -----------------------------------------------------------


def _needs_versioned() -> Path:
    library = versioned_library()
    return build_c(
        "uses_shared.c",
        ldflags=[str(library), f"-Wl,-rpath,{library.parent}"],
        out_name="needs-versioned",
    )


def test_unknown_library_gives_verdict_unknown_and_exit_3() -> None:
    path = build_c("uses_libpq.c", cflags=["-I/usr/include/postgresql"], ldflags=["-lpq", "-lm"])
    proc = elfship("check", str(path), "-t", "ubuntu:24.10", "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    (result,) = document["results"]
    assert result["verdict"] == "unknown" and result["arch"] == "x86_64"
    assert [f["library"] for f in result["findings"] if f["severity"] == "unknown"] == ["libpq.so.5"]
    text = elfship("check", str(path), "-t", "ubuntu:24.10")
    assert text.returncode == 3 and "on ubuntu:24.10 (x86_64): UNKNOWN" in text.stdout
    assumed = elfship("check", str(path), "-t", "ubuntu:24.10", "--assume-present", "libpq.so.5")
    assert assumed.returncode == 0 and "RUNS" in assumed.stdout
    # Known to be absent stays a failure, whatever is unknown elsewhere in the matrix.
    matrix = elfship("check", str(path), "-t", "ubuntu:24.10", "-t", "debian:12")
    assert matrix.returncode == 1 and "unknown: libpq.so.5?" in matrix.stdout


def test_assumed_library_with_unmeasured_nodes_is_a_warning_naming_the_gap() -> None:
    path = _needs_versioned()
    info = read_elf(path)
    assert info.versions_needed_from("libversioned.so.1") == ("LIBSHARED_1.0",)
    plain = check_info(info, get_target("debian:12"))
    assert plain.verdict == "fails" and missing_sonames(plain) == {"libversioned.so.1"}
    assumed = check_info(info, get_target("debian:12"), assume_present=frozenset({"libversioned.so.1"}))
    assert assumed.verdict == "runs"
    (gap,) = [f for f in assumed.findings if f.kind == "version-unverified"]
    assert gap.severity.value == "warning" and gap.evidence["versions"] == ["LIBSHARED_1.0"]
    assert "libversioned.so.1" in gap.message and "never measured" in gap.message


# -- truth at the scale of the roots: every ELF file of a newer root, --target vs --root ---------------


@needs_root
@pytest.mark.parametrize(
    ("newer", "older", "name"), [("trixie", "bookworm", "debian:12"), ("bookworm", "bullseye", "debian:11")]
)
def test_every_file_of_a_newer_root_gets_the_verdict_of_the_older_root(
    newer: str, older: str, name: str
) -> None:
    source, root = debian_root(newer), debian_root(older)
    target, root_target = get_target(name), target_from_root(root)
    compared, unequal = 0, []
    for directory in ("usr/bin", "usr/sbin", "usr/lib/x86_64-linux-gnu"):
        for entry in sorted(os.scandir(source / directory), key=lambda e: e.name):
            if entry.is_symlink() or not entry.is_file() or not _is_elf(Path(entry.path)):
                continue
            info = read_elf(entry.path)
            named, exact = check_info(info, target), check_in_root(entry.path, info, root, root_target)
            compared += 1
            # GLIBC_PRIVATE is the one deliberate difference: a named release never vouches for it.
            private = {p for p in missing_pairs(named) if p[1] == "GLIBC_PRIVATE"}
            same = (missing_sonames(named), missing_pairs(named) - private) == (
                missing_sonames(exact),
                missing_pairs(exact),
            )
            if not same or (named.verdict != exact.verdict and not private):
                unequal.append((entry.name, named.verdict, exact.verdict))
            assert named.verdict != "runs" or exact.verdict == "runs", entry.path  # never a silent pass
    assert compared > 250 and unequal == []


def _is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def test_a_library_without_version_definitions_provides_no_version(tmp_path: Path) -> None:
    """Why an unversioned library provides nothing: ld.so warns, then stops at the first bound symbol."""
    program = copy_fixture(_needs_versioned(), tmp_path, "app")
    unversioned = build_c(
        "libshared.c", cflags=["-shared", "-fPIC"], ldflags=["-Wl,-soname,libversioned.so.1"]
    )
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(unversioned, lib / "libversioned.so.1")
    proc = subprocess.run([str(program)], capture_output=True, text=True, env={"LD_LIBRARY_PATH": str(lib)})
    assert "no version information available" in proc.stderr and proc.returncode != 0


# -- aarch64: the same facts from roots of Debian's arm64 packages ------------------------------------------


def debian_arm64_root(suite: str) -> Path:
    """`debootstrap --foreign --arch=arm64`: Debian's arm64 packages unpacked, nothing of them run (what the
    generator reads for the aarch64 releases); cached beside the amd64 roots."""
    root = ROOTS / f"{suite}-arm64"
    if (root / "etc" / "os-release").exists():
        return root
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap not installed (apt-get install debootstrap)")
    with file_lock(ROOTS / f".{suite}-arm64.lock"):
        if not (root / "etc" / "os-release").exists():
            tmp = ROOTS / f".{suite}-arm64.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            argv = ["debootstrap", "--foreign", "--arch=arm64", "--variant=minbase", suite, str(tmp), MIRROR]
            proc = subprocess.run(argv, capture_output=True, text=True)
            if proc.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                pytest.skip(
                    f"debootstrap --foreign {suite} arm64 failed (mirror unreachable?): {proc.stderr[-300:]}"
                )
            tmp.chmod(0o755)
            tmp.rename(root)
    return root


@needs_root
@pytest.mark.parametrize(("suite", "name"), [("bookworm", "debian:12"), ("trixie", "debian:13")])
def test_aarch64_data_is_what_the_arm64_root_defines(suite: str, name: str) -> None:
    root = debian_arm64_root(suite)
    target = get_target(name, arch="aarch64")
    libraries = scan_libraries(FileView(root))
    assert set(libraries) == target.base_sonames and "ld-linux-aarch64.so.1" in libraries
    for soname, found in libraries.items():
        for node in read_elf_located(found).version_definitions:
            assert target.provides_version(soname, node) is not False or node.endswith("_PRIVATE"), (
                soname,
                node,
            )


@needs_root
def test_aarch64_xz_5_6_need_is_judged_exactly() -> None:
    liblzma = debian_arm64_root("trixie") / "usr/lib/aarch64-linux-gnu/liblzma.so.5"
    path = build_c(
        "uses_lzma56.c",
        compiler="zig",
        zig_target="aarch64-linux-gnu",
        ldflags=[str(liblzma), "-Wl,--allow-shlib-undefined"],
        out_name="lzma56-aarch64",
    )
    named = check_path(str(path), get_target("debian:12", arch="aarch64"))
    assert named.arch == "aarch64" and missing_pairs(named) == {("liblzma.so.5", "XZ_5.6.0")}
    exact = check_in_root(str(path), read_elf(path), debian_arm64_root("bookworm"))
    assert exact.arch == "aarch64" and missing_pairs(exact) == missing_pairs(named)
    assert check_path(str(path), get_target("debian:13", arch="aarch64")).verdict == "runs"
