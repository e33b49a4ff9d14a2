"""What this machine can build with: cargo, rustc and its installed std targets, musl-gcc, zig, strip.

Detection runs each tool at most once per process (`rustc -vV` and `--print sysroot` cost ~20 ms each), rustc
not at all when its answer is remembered from an earlier build (rustcfacts.py), and never fails by itself: a
missing tool is recorded as None and the strategy that needs it says what to install.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from elfship.builder import rustcfacts
from elfship.errors import ToolMissingError
from elfship.record import record

RUSTUP_URL = "https://rustup.rs"


@record
class Toolchain:
    cargo: str
    rustc: str
    host_triple: str  # e.g. x86_64-unknown-linux-gnu
    sysroot: Path  # rustc --print sysroot; <sysroot>/lib/rustlib/<triple>/lib holds a target's std
    musl_gcc: dict[str, str]  # arch -> path of a musl-gcc wrapper for it (Debian's musl-tools: x86_64)
    zig: str | None  # the zig executable (PATH, or the one inside the `ziglang` wheel)
    host_cc: str | None  # the C compiler cargo links with by default
    strip: str | None

    def std_installed(self, triple: str) -> bool:
        return (self.sysroot / "lib" / "rustlib" / triple / "lib").is_dir()

    @property
    def host_arch(self) -> str:
        return self.host_triple.split("-", 1)[0]


def detect_toolchain(env: Mapping[str, str] | None = None) -> Toolchain:
    """Find the tools. Raises ToolMissingError only for cargo/rustc, without which nothing can be built."""
    return start_detection(env).result()


class PendingToolchain:
    """Detection with rustc already asked (its ~20-50 ms start-up overlaps whatever the caller does next)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._cargo = find_cargo(env)
        rustc = _tool_from_env(env, "RUSTC", "rustc", env.get("PATH"))
        if rustc is None:
            raise ToolMissingError("rustc not found on PATH", fix=f"install Rust with rustup ({RUSTUP_URL})")
        self._rustc = rustc
        self._facts = _RustcFacts(rustc, env)

    @property
    def remembered(self) -> bool:
        """rustc was not asked: its answer is remembered from an earlier build (rustcfacts.py)."""
        return self._facts.remembered

    def result(self) -> Toolchain:
        path = self._env.get("PATH")
        host_triple, sysroot = self._facts.result()
        return Toolchain(
            cargo=self._cargo,
            rustc=self._rustc,
            host_triple=host_triple,
            sysroot=sysroot,
            musl_gcc=_find_musl_gcc(path),
            zig=find_zig(self._env),
            host_cc=shutil.which("cc", path=path) or shutil.which("gcc", path=path),
            strip=shutil.which("strip", path=path),
        )


def start_detection(env: Mapping[str, str] | None = None) -> PendingToolchain:
    """Detection started: cargo and rustc found (or ToolMissingError now), rustc's answer read by result()."""
    return PendingToolchain(os.environ if env is None else env)


def find_cargo(env: Mapping[str, str]) -> str:
    cargo = _tool_from_env(env, "CARGO", "cargo", env.get("PATH"))
    if cargo is None:
        raise ToolMissingError("cargo not found on PATH", fix=f"install Rust with rustup ({RUSTUP_URL})")
    return cargo


def host_arch() -> str:
    """This machine's architecture in Rust's spelling, before rustc is asked (`uname -m`)."""
    machine = os.uname().machine
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)


def _tool_from_env(env: Mapping[str, str], variable: str, name: str, path: str | None) -> str | None:
    """CARGO/RUSTC as cargo itself honours them, then PATH."""
    chosen = env.get(variable)
    if chosen:
        return shutil.which(chosen, path=path) or (chosen if os.access(chosen, os.X_OK) else None)
    return shutil.which(name, path=path)


class _RustcFacts:
    """Host triple and sysroot in one rustc start (`--print host-tuple` is rustc 1.84+; older ones: -vV)."""

    def __init__(self, rustc: str, env: Mapping[str, str]) -> None:
        self._rustc, self._env = rustc, env
        self._key = rustcfacts.cache_key(rustc, env)
        self._known = rustcfacts.lookup(self._key)
        self._process: subprocess.Popen[str] | None = None
        if self._known is not None:
            return  # asked before, and nothing that picks the compiler has changed since (rustcfacts.py)
        try:
            self._process = subprocess.Popen(
                [rustc, "--print", "sysroot", "--print", "host-tuple"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                env=dict(env),
            )
        except OSError:
            self._process = None  # said by the fallback below, which runs rustc again and reports why

    @property
    def remembered(self) -> bool:
        return self._known is not None

    def result(self) -> tuple[str, Path]:
        if self._known is not None:
            return self._known
        facts = self._asked()
        rustcfacts.remember(self._key, *facts)
        return facts

    def _asked(self) -> tuple[str, Path]:
        if self._process is not None:
            stdout, _ = self._process.communicate()
            if self._process.returncode == 0 and len(stdout.split()) == 2:
                sysroot, host = stdout.split()
                return host, Path(sysroot)
        return _rustc_facts_vv(self._rustc, self._env)


def _rustc_facts_vv(rustc: str, env: Mapping[str, str]) -> tuple[str, Path]:
    """Before rustc 1.84: -vV names the host, --print sysroot the sysroot."""
    version = _checked(_run_rustc([rustc, "-vV"], env), rustc)
    sysroot = _checked(_run_rustc([rustc, "--print", "sysroot"], env), rustc).strip()
    host = next(
        (line.split(":", 1)[1].strip() for line in version.splitlines() if line.startswith("host:")), ""
    )
    if not host:
        raise ToolMissingError(f"{rustc} -vV names no host triple", fix="repair the Rust installation")
    return host, Path(sysroot)


def _run_rustc(argv: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=dict(env))
    except OSError as exc:
        raise ToolMissingError(
            f"{argv[0]} does not run ({exc.strerror})",
            fix=f"repair the Rust installation (rustup, {RUSTUP_URL})",
        ) from None


def _checked(done: subprocess.CompletedProcess[str], rustc: str) -> str:
    if done.returncode != 0:
        detail = (
            done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
        )
        raise ToolMissingError(
            f"{rustc} does not run: {detail}", fix=f"repair the Rust installation ({RUSTUP_URL})"
        )
    return done.stdout


def _find_musl_gcc(path: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for arch, names in (
        ("x86_64", ("x86_64-linux-musl-gcc", "musl-gcc")),
        ("aarch64", ("aarch64-linux-musl-gcc",)),
    ):
        for name in names:
            located = shutil.which(name, path=path)
            if located:
                found[arch] = located
                break
    return found


def find_zig(env: Mapping[str, str] | None = None) -> str | None:
    """`zig` on PATH, else the binary shipped in the `ziglang` wheel (`pip install ziglang`).

    The wheel's binary is called directly rather than through `python -m ziglang`: a wrapper script is run once
    per C file, and a Python start-up for each would add up over OpenSSL's ~700 files.
    """
    env = os.environ if env is None else env
    on_path = shutil.which("zig", path=env.get("PATH"))
    if on_path:
        return on_path
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "zig"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def static_library_available(cc: str | None, library: str) -> bool:
    """Whether the host C compiler finds lib<library>.a (gcc prints the bare name back when it does not)."""
    if cc is None:
        return False
    name = f"lib{library}.a"
    try:
        found = subprocess.run([cc, f"-print-file-name={name}"], capture_output=True, text=True, check=False)
    except OSError:
        return False
    answer = found.stdout.strip()
    return answer != name and os.path.isabs(answer) and os.path.exists(answer)
