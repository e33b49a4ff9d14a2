"""Real binaries for the sbom and audit tests, built at test time and cached in ~/.cache/elfship-tests.

- sqlitez: libsqlite3-sys `bundled` (pinned to 0.25.0, SQLite 3.39.0) + libz-sys `static`, linked static,
  with plain cargo (no .dep-v0) and with `cargo auditable` (a .dep-v0 section);
- a C program linked statically against Debian's libssl.a, libcrypto.a and libz.a;
- a dynamic program that prints OPENSSL_VERSION_TEXT and calls libssl through the loader;
- a Go program (golang-go from Debian).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.fixtures import CACHE, build_c, file_lock

CARGO_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cargo"
HOST = "x86_64-unknown-linux-gnu"


def _key(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part + b"\0")
    return digest.hexdigest()[:16]


def _tool_version(*argv: str) -> bytes:
    try:
        return subprocess.run(argv, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"{argv[0]} {' '.join(argv[1:2])} not installed")


def sqlitez(*, auditable: bool) -> Path:
    """The sqlitez crate built static for the host; auditable=True through `cargo auditable build`."""
    if shutil.which("cargo") is None:
        pytest.skip("cargo not installed (https://rustup.rs)")
    project = CARGO_FIXTURES / "sqlitez"
    identity = _tool_version("rustc", "--version")
    if auditable:
        identity += _tool_version("cargo", "auditable", "--version")
    files = sorted(p for p in project.rglob("*") if p.is_file())
    key = _key(identity, *(str(p.relative_to(project)).encode() + p.read_bytes() for p in files))
    out = CACHE / "fixtures" / key / ("sqlitez-auditable" if auditable else "sqlitez")
    if out.exists():
        return out
    # One target directory for both: cargo-auditable only wraps the workspace crate, so SQLite compiles once.
    with file_lock(CACHE / "cargo-target" / ".sqlitez.lock"):
        if not out.exists():
            target_dir = CACHE / "cargo-target" / "sqlitez"
            env = {
                **os.environ,
                "CARGO_TARGET_DIR": str(target_dir),
                "RUSTFLAGS": "-C target-feature=+crt-static",
            }
            cmd = [
                "cargo",
                *(["auditable"] if auditable else []),
                "build",
                "--release",
                "--locked",
                "--target",
                HOST,
            ]
            done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=3000)
            assert done.returncode == 0, done.stderr[-3000:]
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            shutil.copy2(target_dir / HOST / "release" / "sqlitez", tmp)
            os.replace(tmp, out)
    return out


def static_openssl_zlib() -> Path:
    for archive in ("libssl.a", "libcrypto.a", "libz.a"):
        if not list(Path("/usr/lib").glob(f"*/{archive}")):
            pytest.skip(f"{archive} not installed (apt-get install libssl-dev zlib1g-dev)")
    return build_c(
        "sbom_static_ssl.c", cflags=["-O2"], ldflags=["-static", "-lssl", "-lcrypto", "-lz", "-lpthread"]
    )


def prints_openssl_version() -> Path:
    if not Path("/usr/include/openssl/opensslv.h").exists():
        pytest.skip("OpenSSL headers not installed (apt-get install libssl-dev)")
    return build_c("sbom_prints_version.c", cflags=["-O2"], ldflags=["-lssl", "-lcrypto"])


def go_program() -> Path:
    if shutil.which("go") is None:
        pytest.skip("go not installed (apt-get install golang-go)")
    version = _tool_version("go", "version")
    source = b'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n'
    module = b"module example.com/elfship/gohello\n\ngo 1.19\n"
    out = CACHE / "fixtures" / _key(version, source, module) / "gohello"
    if out.exists():
        return out
    with file_lock(out.parent / ".lock"):
        if not out.exists():
            work = out.parent / "src"
            work.mkdir(parents=True, exist_ok=True)
            (work / "main.go").write_bytes(source)
            (work / "go.mod").write_bytes(module)
            env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOCACHE": str(CACHE / "go-build")}
            done = subprocess.run(
                ["go", "build", "-o", str(out.with_name(".gohello.tmp")), "."],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            os.replace(out.with_name(".gohello.tmp"), out)
    return out


def dpkg_version(package: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout:
        pytest.skip(f"{package} not installed (apt-get install {package})")
    return done.stdout


def upstream_of_debian(version: str) -> str:
    """'1:1.2.13.dfsg-1' -> '1.2.13'; '3.0.19-1~deb12u2' -> '3.0.19'."""
    bare = version.split(":", 1)[-1].rsplit("-", 1)[0]
    return bare.split(".dfsg")[0].split("+")[0]


def static_everything() -> Path:
    """The same program with Debian's whole libssl.a, libcrypto.a, libz.a and libsqlite3.a linked in: two
    libraries each carry a bare "3.x.y" string, so SQLite's version must come from its own variable."""
    if not list(Path("/usr/lib").glob("*/libsqlite3.a")):
        pytest.skip("libsqlite3.a not installed (apt-get install libsqlite3-dev)")
    static_openssl_zlib()  # the same skips
    archives = ["-Wl,--whole-archive", "-lssl", "-lcrypto", "-lz", "-lsqlite3", "-Wl,--no-whole-archive"]
    return build_c(
        "sbom_static_ssl.c",
        cflags=["-O2"],
        ldflags=["-static", *archives, "-lpthread", "-ldl", "-lm"],
        out_name="static-everything",
    )
