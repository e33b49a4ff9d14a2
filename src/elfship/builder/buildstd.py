"""musl without an installed musl std: build std from source (`-Zbuild-std`) and link with the system's musl.

A distribution's Rust (Debian's rustc-web, Fedora's rust) has no rustup and no musl std, but may ship the std
sources (Debian: rust-web-src). Measured on Debian 12 with rustc-web 1.96:

- cargo finds the sources at `<rustc sysroot>/lib/rustlib/src/rust/library`, so the rustc that builds must be the
  one whose sysroot holds them: std's source only compiles with its own compiler (rustup's 1.95 fails on 1.96's
  core). elfship therefore picks a (cargo, rustc) pair and names it in RUSTC.
- rustc's self-contained musl linking wants crt objects a source build does not have (`cannot find crt1.o`):
  `-C link-self-contained=no` and the linker `musl-gcc` use Debian's musl instead.
- std's `unwind` crate links `-l static=unwind`. Debian's LLVM libunwind.a works under musl once one
  glibc-only symbol (`__fprintf_chk`, from _FORTIFY_SOURCE) is provided: elfship compiles that shim with
  musl-gcc into its own copy of libunwind.a. gcc's libgcc_eh.a is no alternative: it needs glibc's
  `_dl_find_object`.
- musl-gcc's specs have no `-static-pie` case (the link comes out as a dynamic PIE with an INTERP):
  `-C relocation-model=static` gives a fully static binary; static-pie uses a specs file of elfship's that
  starts with `rcrt1.o` and links with `--no-dynamic-linker`, driven by gcc directly.
- Another architecture (aarch64) has no musl-gcc here: zig (`zig cc -target aarch64-linux-musl`) links instead,
  with its own musl, crt objects and libunwind, so no support files are needed. The same std-from-source
  build serves glibc-pinned for an architecture whose std is not installed (`aarch64-unknown-linux-gnu`),
  linked by zig against the pinned glibc.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from elfship.atomic import write_bytes
from elfship.errors import ToolMissingError, UsageError
from elfship.record import record

BUILD_STD_ARG = "-Zbuild-std=std,panic_abort"
# Debian's rustc-web/cargo-web (with rust-web-src) install here; tried after the rustc on PATH.
DISTRO_RUST = (("/usr/bin/cargo", "/usr/bin/rustc"),)
STD_SOURCE_FIX = (
    "apt-get install rustc-web cargo-web rust-web-src (Debian 12), or rustup component add rust-src"
)
# Debian's LLVM libunwind (libunwind-NN-dev); the newest NN wins.
LIBUNWIND_GLOB = "/usr/lib/llvm-*/lib/libunwind.a"
LIBUNWIND_FIX = "apt-get install libunwind-22-dev (Debian 12: bookworm-security)"
SUPPORT_SUBDIR = "musl-support"  # under the strategy's target dir: shim, libunwind.a, specs
PIE_SPECS = "musl-static-pie.specs"
SHIM_SOURCE = """\
/* elfship: Debian's LLVM libunwind.a was built against glibc with _FORTIFY_SOURCE; musl has no __fprintf_chk. */
#include <stdarg.h>
#include <stdio.h>
int __fprintf_chk(FILE *stream, int flag, const char *format, ...) {
    va_list ap;
    int n;
    (void)flag;
    va_start(ap, format);
    n = vfprintf(stream, format, ap);
    va_end(ap);
    return n;
}
"""


@record
class StdSource:
    """A cargo and rustc whose sysroot holds the std sources they can compile."""

    cargo: str
    rustc: str
    version: str  # rustc's release, e.g. 1.96.0
    library: Path  # <sysroot>/lib/rustlib/src/rust/library


@record
class BuildStd:
    """What the plan needs to build the musl std from source and link it without rustc's own musl."""

    source: StdSource
    static_pie: bool
    musl_gcc: str  # the linker for static
    gcc: str  # the C compiler musl-gcc wraps: the linker for static-pie, with elfship's specs
    libunwind: Path  # LLVM's libunwind.a, copied with the shim into the support dir
    zig_cc: str | None = None  # zig's cc wrapper links instead (no musl-gcc for the arch, or glibc-pinned)
    musl: bool = True  # False: glibc-pinned (nothing but std from source)

    @property
    def linker(self) -> str:
        if self.zig_cc is not None:
            return self.zig_cc
        return self.gcc if self.static_pie else self.musl_gcc

    @property
    def dir_suffix(self) -> str:
        """Its own target dir: std is rebuilt whenever its flags change, so static and static-pie never share."""
        return "-build-std-pie" if self.static_pie else "-build-std"

    def rustflags(self, support_dir: Path) -> str:
        """Everything but +crt-static (the plan says that one itself, for every static strategy)."""
        if any(c.isspace() for c in str(support_dir)):  # cargo splits target RUSTFLAGS on whitespace
            raise UsageError(
                f"--build-std cannot pass the path {str(support_dir)!r} to rustc: it contains whitespace",
                fix="set CARGO_TARGET_DIR to a directory without spaces",
            )
        if not self.musl:
            return ""
        if self.zig_cc is not None:  # zig brings musl's crt objects and libunwind itself
            return "-C link-self-contained=no" + ("" if self.static_pie else " -C relocation-model=static")
        flags = ["-C link-self-contained=no", f"-L native={support_dir}"]
        if self.static_pie:
            flags.append(f"-C link-arg=-specs={support_dir / PIE_SPECS}")
        else:
            flags.append("-C relocation-model=static")
        return " ".join(flags)


def check_link_mode(build_std: bool, static_pie: bool) -> None:
    if static_pie and not build_std:
        raise UsageError(
            "--static-pie goes with --build-std",
            fix="add --build-std (rustup's musl std already links static-pie)",
        )


def build_std_for(
    build_std: bool,
    static_pie: bool,
    cargo: str,
    rustc: str,
    sysroot: Path,
    musl_gcc: str | None,
    env: Mapping[str, str],
    *,
    zig_cc: str | None = None,
    musl: bool = True,
) -> BuildStd | None:
    """Everything --build-std needs, found before cargo starts (a missing piece is one line, not a long build).
    zig_cc: the zig wrapper to link with when there is no musl-gcc for the arch (or for glibc-pinned)."""
    check_link_mode(build_std, static_pie)
    if not build_std:
        return None
    if zig_cc is not None and (musl_gcc is None or not musl):
        if static_pie:  # measured: zig drops -static-pie and links a static, non-PIE executable
            raise UsageError(
                "--static-pie needs musl-gcc; zig (aarch64 musl, glibc-pinned) links a static non-PIE executable",
                fix="drop --static-pie",
            )
        source = find_std_source(cargo, rustc, sysroot, env)
        return BuildStd(source, static_pie, "", "", Path(), zig_cc=zig_cc, musl=musl)
    if musl_gcc is None:
        raise ToolMissingError(
            "--build-std links with musl-gcc, which is not installed", fix="apt-get install musl-tools"
        )
    return BuildStd(
        source=find_std_source(cargo, rustc, sysroot, env),
        static_pie=static_pie,
        musl_gcc=musl_gcc,
        gcc=real_gcc(musl_gcc, env),
        libunwind=find_libunwind(),
    )


def find_std_source(
    cargo: str,
    rustc: str,
    sysroot: Path,
    env: Mapping[str, str],
    *,
    candidates: Sequence[tuple[str, str]] = DISTRO_RUST,
) -> StdSource:
    """The toolchain in use when its sysroot has rust-src, else a distribution's (unless RUSTC pins one)."""
    pairs: list[tuple[str, str, Path | None]] = [(cargo, rustc, sysroot)]
    if not env.get("RUSTC"):
        pairs += [(c, r, None) for c, r in candidates if (c, r) != (cargo, rustc)]
    for pair_cargo, pair_rustc, pair_sysroot in pairs:
        found = _std_source(pair_cargo, pair_rustc, pair_sysroot, env)
        if found is not None:
            return found
    return _no_source(rustc, sysroot)


def _no_source(rustc: str, sysroot: Path) -> StdSource:
    raise ToolMissingError(
        f"--build-std needs the Rust std sources (rust-src) of the rustc that builds; {rustc} has none in "
        f"{sysroot}/lib/rustlib/src",
        fix=STD_SOURCE_FIX,
    )


def _std_source(cargo: str, rustc: str, sysroot: Path | None, env: Mapping[str, str]) -> StdSource | None:
    if not (os.access(cargo, os.X_OK) and os.access(rustc, os.X_OK)):
        return None
    if sysroot is not None and not _library(sysroot).is_dir():
        return None  # the usual case for rustup without rust-src: no need to start rustc to know
    version, reported = _rustc_release_and_sysroot(rustc, env, ask_sysroot=sysroot is None)
    root = sysroot or reported
    if version is None or root is None:
        return None
    library = _library(root)
    if not (library / "std" / "Cargo.toml").is_file():
        return None
    # Debian links the sources to /usr/src/rustc-<version>: a mismatch there means a broken install.
    named = re.search(r"rustc-(\d+\.\d+\.\d+)", str(library.resolve()))
    if named and named.group(1) != version:
        return None
    return StdSource(cargo=cargo, rustc=rustc, version=version, library=library)


def _library(sysroot: Path) -> Path:
    return sysroot / "lib" / "rustlib" / "src" / "rust" / "library"


def _rustc_release_and_sysroot(
    rustc: str, env: Mapping[str, str], *, ask_sysroot: bool
) -> tuple[str | None, Path | None]:
    try:
        verbose = subprocess.run([rustc, "-vV"], capture_output=True, text=True, env=dict(env), timeout=60)
        root = (
            subprocess.run(
                [rustc, "--print", "sysroot"], capture_output=True, text=True, env=dict(env), timeout=60
            )
            if ask_sysroot
            else None
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    release = re.search(r"^release: (\S+)", verbose.stdout, re.MULTILINE)
    sysroot = Path(root.stdout.strip()) if root and root.returncode == 0 and root.stdout.strip() else None
    return (release.group(1) if release else None), sysroot


def find_libunwind(pattern: str = LIBUNWIND_GLOB) -> Path:
    found = sorted(glob.glob(pattern), key=_llvm_major, reverse=True)
    if not found:
        raise ToolMissingError("--build-std needs a libunwind.a for musl (LLVM's)", fix=LIBUNWIND_FIX)
    return Path(found[0])


def _llvm_major(path: str) -> int:
    match = re.search(r"llvm-(\d+)", path)
    return int(match.group(1)) if match else -1


def real_gcc(musl_gcc: str, env: Mapping[str, str]) -> str:
    """The gcc that Debian's musl-gcc script runs (REALGCC, default x86_64-linux-gnu-gcc)."""
    for name in (env.get("REALGCC") or "", "x86_64-linux-gnu-gcc", "gcc"):
        located = shutil.which(name, path=env.get("PATH")) if name else None
        if located:
            return located
    raise ToolMissingError(f"no gcc found for {musl_gcc}", fix="apt-get install gcc")


def musl_specs(musl_gcc: str) -> Path:
    """The specs file musl-gcc hands to gcc (its script names it)."""
    try:
        text = Path(musl_gcc).read_text(errors="replace")[:4096]
    except OSError:
        text = ""
    match = re.search(r"-specs\s+\"?([^\"\s]+\.specs)", text)
    if not match or not Path(match.group(1)).is_file():
        raise ToolMissingError(f"{musl_gcc} names no readable specs file", fix="apt-get install musl-tools")
    return Path(match.group(1))


def static_pie_specs(specs: str) -> str:
    """musl-gcc's specs with a static-pie case: rcrt1.o, `-static -pie --no-dynamic-linker`, no INTERP."""
    startfile = re.search(r"^\*startfile:\n%\{!shared: (\S*)Scrt1\.o\}", specs, re.MULTILINE)
    link = re.search(r"^\*link:\n-dynamic-linker (\S+)", specs, re.MULTILINE)
    if startfile is None or link is None:
        raise UsageError(
            "musl-gcc's specs file is not the one elfship knows (no Scrt1.o start file or -dynamic-linker)",
            fix="build without --static-pie",
        )
    libdir = startfile.group(1)
    specs = specs.replace(
        startfile.group(0),
        f"*startfile:\n%{{static-pie: {libdir}rcrt1.o; !shared: {libdir}Scrt1.o}}",
    )
    return specs.replace(
        link.group(0),
        f"*link:\n%{{static-pie:-static -pie --no-dynamic-linker -z text; :-dynamic-linker {link.group(1)}}}",
    )


def support_dir(target_dir: Path) -> Path:
    return target_dir / SUPPORT_SUBDIR


def prepare_support(build_std: BuildStd, target_dir: Path) -> None:
    """Write libunwind.a (LLVM's plus the shim) and the specs file, once per target dir: before cargo runs."""
    if build_std.zig_cc is not None:
        return  # zig links with its own crt objects and libunwind
    directory = support_dir(target_dir)
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / "libunwind.a"
    if not archive.exists() or archive.stat().st_mtime < build_std.libunwind.stat().st_mtime:
        _write_libunwind(build_std.musl_gcc, build_std.libunwind, archive)
    if build_std.static_pie:
        text = static_pie_specs(musl_specs(build_std.musl_gcc).read_text())
        _write_atomically(directory / PIE_SPECS, text.encode())


def _write_libunwind(musl_gcc: str, libunwind: Path, archive: Path) -> None:
    with tempfile.TemporaryDirectory(dir=archive.parent) as scratch:
        source = Path(scratch) / "fortify_shim.c"
        source.write_text(SHIM_SOURCE)
        shim = Path(scratch) / "fortify_shim.o"
        merged = Path(scratch) / "libunwind.a"
        shutil.copyfile(libunwind, merged)
        _run([musl_gcc, "-O2", "-c", str(source), "-o", str(shim)])
        _run([shutil.which("ar") or "ar", "rs", str(merged), str(shim)])
        os.replace(merged, archive)


def _run(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissingError(
            f"{argv[0]} does not run ({exc})", fix="apt-get install musl-tools binutils"
        ) from None
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
        raise ToolMissingError(
            f"{' '.join(argv[:2])} failed: {last}", fix="apt-get install musl-tools binutils"
        )


def _write_atomically(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    write_bytes(path, data)
