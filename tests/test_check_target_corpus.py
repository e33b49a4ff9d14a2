"""Truth at scale: real Debian 13 and unstable packages, file by file, `--target debian:N` against the real
loader of the Debian N minbase root and against `check --root` of that root.

The corpus is downloaded once with `apt-get download` inside the trixie and sid roots (their own keyrings
verify it), unpacked with `dpkg-deb -x` and cached in ~/.cache/elfship-tests/corpus. The loader is asked in
trace mode (LD_TRACE_LOADED_OBJECTS, what ldd does): it maps the libraries and checks every version need
without running the file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from elfship.check import check_in_root, check_info
from elfship.check.model import CheckResult
from elfship.elf import ElfInfo, Kind, read_elf
from elfship.targets import get_target, target_from_root
from tests.support.fixtures import CACHE, debian_root, file_lock

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and debootstrap need root"),
]

CORPUS = CACHE / "corpus"


# A varied set: compression tools, network clients and their TLS/HTTP/Kerberos stack, databases' client
# libraries, terminal programs, system tools, GCC runtimes; from unstable, the core utilities whose version
# needs move fastest (glibc, libselinux, libsystemd, util-linux's libraries, ncurses).
def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PACKAGES = {
    "trixie": _words(
        "xz-utils liblzma5 redis-tools jq libjq1 libonig5 curl libcurl4t64 libnghttp2-14 libnghttp3-9 "
        "libngtcp2-16 libpsl5t64 librtmp1 libssh2-1t64 libbrotli1 libldap2 libsasl2-2 libkrb5-3 "
        "libgssapi-krb5-2 libk5crypto3 libkrb5support0 libkeyutils1 libidn2-0 openssl libssl3t64 sqlite3 "
        "libsqlite3-0 libpq5 zstd lz4 bzip2 tmux libevent-core-2.1-7t64 libutempter0 htop libnl-3-200 "
        "libnl-genl-3-200 rsync libxxhash0 libpopt0 file libmagic1t64 less procps libproc2-0 iproute2 libbpf1 "
        "libelf1t64 libmnl0 libxtables12 libgomp1 libatomic1 libxml2 libexpat1 libyaml-0-2 libffi8 libedit2 "
        "libbsd0 libmd0 libuv1t64 libzstd1 libsystemd0 libgcrypt20 libgpg-error0 libseccomp2 libcap2"
    ),
    "sid": _words(
        "xz-utils liblzma5 coreutils findutils grep sed tar libselinux1 libpcre2-8-0 libsystemd0 libudev1 "
        "libmount1 libblkid1 libsmartcols1 util-linux libtinfo6 ncurses-bin libc-bin bash"
    ),
}
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
RELEASES = {"bullseye": "debian:11", "bookworm": "debian:12", "trixie": "debian:13"}
APT = "-q -o Dir::State::Lists=/tmp/elfship-corpus/lists -o APT::Sandbox::User=root"
# The roots' Release files carry a Valid-Until that a machine with a wrong clock would refuse.
APT += " -o Acquire::Check-Valid-Until=false"


def corpus(suite: str) -> Path:
    """The unpacked packages of `suite`, downloaded once (skipped with the reason if the mirror is away)."""
    out = CORPUS / suite
    done = out / ".complete"
    if done.exists():
        return out
    with file_lock(CORPUS / f".{suite}.lock"):
        if not done.exists():
            _download(suite, out)
            done.touch()
    return out


def _download(suite: str, out: Path) -> None:
    root = debian_root(suite)
    work = root / "tmp" / "elfship-corpus"
    shutil.rmtree(work, ignore_errors=True)
    (work / "lists" / "partial").mkdir(parents=True)
    (work / "debs").mkdir()
    script = f"apt-get {APT} update && cd /tmp/elfship-corpus/debs && apt-get {APT} download {' '.join(PACKAGES[suite])}"
    try:
        proc = subprocess.run(
            ["chroot", str(root), "sh", "-c", script], capture_output=True, text=True, timeout=600
        )
        if proc.returncode != 0:
            pytest.skip(
                f"apt-get download in the {suite} root failed (mirror unreachable?): {proc.stderr[-500:]}"
            )
        shutil.rmtree(out, ignore_errors=True)
        for deb in sorted((work / "debs").glob("*.deb")):
            destination = out / deb.name.split("_", 1)[0]
            destination.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(destination)], check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def elf_files(directory: Path) -> Iterator[Path]:
    for dirpath, _dirs, names in sorted(os.walk(directory)):
        for name in sorted(names):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    yield path


@dataclass(frozen=True)
class Answer:
    """What one check (or the loader) says about one file: verdict, missing sonames, missing own versions."""

    fails: bool
    sonames: frozenset[str]
    versions: frozenset[tuple[str, str]]


def from_check(result: CheckResult) -> Answer:
    versions = {
        (f.evidence["library"], version)
        for f in result.errors
        if f.kind in ("version-too-new", "private-version") and not f.evidence.get("needed_by")
        for version in f.evidence["versions"]
    }
    sonames = {
        f.evidence["library"] for f in result.errors if f.kind in ("library-missing", "library-not-in-base")
    }
    assert result.verdict != "unknown", result.findings  # every Debian base system here was measured
    return Answer(result.verdict == "fails", frozenset(sonames), frozenset(versions))


_NOT_FOUND = re.compile(r"^\s*(\S+) => not found$", re.M)
_UNVERSIONED = re.compile(r"^\S+: (\S+): no version information available \(required by (\S+)\)$", re.M)
_VERSION = re.compile(r"^\S+: (\S+): version `([^']+)' not found \(required by (\S+)\)$", re.M)


def from_loader(root: Path, path: Path, info: ElfInfo) -> Answer:
    """ldd's question to the root's own loader, in a chroot: which libraries and versions are missing."""
    inside = root / "tmp" / "elfship-truth"
    inside.mkdir(exist_ok=True)
    copy = inside / path.name
    shutil.copyfile(path, copy)
    loader = info.interpreter or "/lib64/ld-linux-x86-64.so.2"
    # The variable is set inside the chroot: set outside, the host's loader would trace chroot itself.
    trace = [
        "/usr/bin/env",
        "-i",
        "LD_TRACE_LOADED_OBJECTS=1",
        "LD_WARN=yes",
        loader,
        f"/tmp/elfship-truth/{path.name}",
    ]
    proc = subprocess.run([CHROOT, str(root), *trace], capture_output=True, text=True, timeout=60)
    copy.unlink()
    text = proc.stdout + proc.stderr
    sonames = frozenset(_NOT_FOUND.findall(text))
    own = f"/tmp/elfship-truth/{path.name}"
    # The loader names the file it opened: a library directory plus the needed name (the soname).
    versions = frozenset(
        (library.rsplit("/", 1)[-1], version)
        for library, version, requirer in _VERSION.findall(text)
        if requirer == own
    )
    # A needed library with no version information at all: ld.so warns, then stops at the first symbol bound
    # to the version (tests/test_check_target_nodes.py shows it): every version needed from it is missing.
    unversioned = {
        library.rsplit("/", 1)[-1] for library, requirer in _UNVERSIONED.findall(text) if requirer == own
    }
    versions |= {(soname, v) for soname in unversioned for v in info.versions_needed_from(soname)}
    fails = proc.returncode != 0 or bool(sonames) or bool(_VERSION.findall(text)) or bool(unversioned)
    return Answer(fails, sonames, versions)


def _without_private(answer: Answer) -> Answer:
    """GLIBC_PRIVATE is the one deliberate difference: a named release never vouches for it (docs/check.md),
    while the loader accepts any glibc's GLIBC_PRIVATE node. Only glibc's own programs need it."""
    versions = frozenset(p for p in answer.versions if p[1] != "GLIBC_PRIVATE")
    only_private = answer.fails and not answer.sonames and not versions and versions != answer.versions
    return Answer(answer.fails and not only_private, answer.sonames, versions)


@pytest.mark.parametrize("suite", ["trixie", "sid"])
def test_named_targets_agree_with_the_loaders_of_the_roots_file_by_file(suite: str) -> None:
    files = [(path, read_elf(path)) for path in elf_files(corpus(suite))]
    dynamic = [(path, info) for path, info in files if info.kind in (Kind.DYNAMIC, Kind.SHARED_LIBRARY)]
    assert len(dynamic) > 100
    compared = 0
    disagreements: list[tuple[str, str, Answer, Answer, Answer]] = []
    for older, name in RELEASES.items():
        root = debian_root(older)
        target, root_target = get_target(name), target_from_root(root)
        for path, info in dynamic:
            named = _without_private(from_check(check_info(info, target)))
            exact = from_check(check_in_root(str(path), info, root, root_target))
            loader = from_loader(root, path, info)
            compared += 1
            if not named == exact == loader:
                disagreements.append((name, str(path), named, exact, loader))
    assert compared > 300
    assert disagreements == []
