"""elfship bundle, held against a real Debian 11 minbase root: the program fails there, its bundle runs.

The program (tests/fixtures/src/bundle/probe.c) is built here against libpq and this machine's glibc (>= 2.34),
so Debian 11 (glibc 2.31, no libpq) cannot start it. Each bundle format is copied into the root and run with
chroot: no /proc there, no libpq, an older glibc.
"""

from __future__ import annotations

import signal
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from elfship.bundle.policy import GCONV_MINIMAL
from elfship.elf import read_elf
from tests.support.fixtures import debian_root
from tests.test_bundle_common import (
    CHROOT_ENV,
    bundle,
    chroot_argv,
    copy_bundle,
    musl_program,
    place_in_root,
    probe_program,
    require_root_user,
    run_in,
)

pytestmark = pytest.mark.slow
FORMATS = ("dir", "tar", "self-extracting")


@pytest.fixture(scope="module")
def root() -> Path:
    require_root_user()
    return debian_root("bullseye")


@pytest.fixture(scope="module")
def space(root: Path) -> Iterator[tuple[Path, str]]:
    with place_in_root(root) as place:
        yield place


@pytest.fixture(scope="module")
def launchers(space: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The libpq program bundled in each format and installed in the root: format -> launcher path inside."""
    here, inside = space
    program = probe_program()
    work = tmp_path_factory.mktemp("bundles")
    paths = {}
    made = bundle(program, work / "probe.bundle")
    paths["dir"] = f"{inside}/{copy_bundle(made, here).name}/probe"
    archive = bundle(program, work / "probe.tar.gz")
    with tarfile.open(archive) as tar:
        safe = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}  # Python < 3.10.12 has no filters
        tar.extractall(here / "untarred", **safe)  # type: ignore[arg-type]
    paths["tar"] = f"{inside}/untarred/probe/probe"
    single = bundle(program, work / "probe.run")
    paths["self-extracting"] = f"{inside}/{copy_bundle(single, here).name}"
    return paths


def _env(space: tuple[Path, str]) -> dict[str, str]:
    return {"ELFSHIP_CACHE_DIR": f"{space[1]}/cache"}


def test_the_program_really_fails_in_debian_11(root: Path, space: tuple[Path, str]) -> None:
    program = probe_program()
    assert (read_elf(program).libc.min_version or "") >= "2.34"
    here, inside = space
    copy_bundle(program, here)
    done = run_in(root, [f"{inside}/{program.name}"])
    assert done.returncode == 127
    assert b"libpq.so.5" in done.stderr or b"GLIBC_2.34" in done.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_bundle_runs_in_debian_11(
    root: Path, space: tuple[Path, str], launchers: dict[str, str], fmt: str
) -> None:
    done = run_in(root, [launchers[fmt], "version"], env=_env(space))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"libpq 15"), done.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_exit_code_passes_through(
    root: Path, space: tuple[Path, str], launchers: dict[str, str], fmt: str
) -> None:
    assert run_in(root, [launchers[fmt], "exit", "42"], env=_env(space)).returncode == 42


@pytest.mark.parametrize("fmt", FORMATS)
def test_sigterm_reaches_the_program_itself(
    root: Path, space: tuple[Path, str], launchers: dict[str, str], fmt: str
) -> None:
    argv = chroot_argv(root, [launchers[fmt], "wait"])
    with subprocess.Popen(argv, stdout=subprocess.PIPE, env={**CHROOT_ENV, **_env(space)}) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        # exec, not fork: the program has the pid chroot started, so nothing sits between it and the signal.
        assert line == f"pid={proc.pid}\n"
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "probe"  # ps and pkill see its name
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == -signal.SIGTERM


@pytest.mark.parametrize("fmt", FORMATS)
def test_argv0_is_what_the_user_typed(
    root: Path, space: tuple[Path, str], launchers: dict[str, str], fmt: str
) -> None:
    launcher = launchers[fmt]
    directory, name = launcher.rsplit("/", 1)
    by_path = run_in(root, [launcher, "argv0"], env=_env(space))
    assert by_path.stdout == f"argv0={launcher}\n".encode()
    relative = run_in(root, ["/bin/sh", "-c", f"cd {directory} && ./{name} argv0"], env=_env(space))
    assert relative.stdout == f"argv0=./{name}\n".encode()
    via_path = run_in(root, [name, "argv0"], env={**_env(space), "PATH": f"{directory}:/usr/bin:/bin"})
    assert via_path.stdout == f"argv0={name}\n".encode()


def test_a_symlink_to_the_launcher_works_without_proc(
    root: Path, space: tuple[Path, str], launchers: dict[str, str]
) -> None:
    here, inside = space
    links = here / "links"
    links.mkdir(exist_ok=True)
    target = launchers["dir"].removeprefix(inside + "/")
    (links / "probe").symlink_to(f"../{target}")  # chroot has no /proc: the launcher follows the link itself
    done = run_in(root, [f"{inside}/links/probe", "env"])
    assert (
        done.stdout
        == f"exe={launchers['dir'].rsplit('/', 1)[0]}/bin/probe launcher={launchers['dir']}\n".encode()
    )


def test_stdin_and_stdout_pass_through(
    root: Path, space: tuple[Path, str], launchers: dict[str, str]
) -> None:
    data = bytes(range(256)) * 64
    done = run_in(root, [launchers["dir"], "cat"], stdin=data)
    assert done.returncode == 0
    assert done.stdout == data


def test_iconv_uses_the_bundled_gconv_modules(root: Path, launchers: dict[str, str]) -> None:
    done = run_in(root, [launchers["dir"], "iconv"])
    assert done.stdout == b"iconv ok e9\n", done.stdout + done.stderr


def test_gconv_minimal_by_default_all_on_request(
    root: Path, space: tuple[Path, str], launchers: dict[str, str], tmp_path: Path
) -> None:
    """The default bundle carries glibc's core charsets only (CP1252 converts on the old-glibc root). On a
    bare target (a root holding nothing but the bundles: no gconv directory of its own for glibc to fall back
    to) IBM850, an "extra" module, fails cleanly (iconv_open: EINVAL, nothing crashes), and converts from a
    --with-gconv all bundle."""
    directory = Path(launchers["dir"].replace(space[1], str(space[0]), 1)).parent
    carried = {p.name for p in (directory / "lib" / "gconv").iterdir()}
    assert carried == {f"{m}.so" for m in GCONV_MINIMAL} | {"gconv-modules"}
    assert run_in(root, [launchers["dir"], "iconv", "CP1252"]).stdout == b"iconv ok e9\n"
    bare = tmp_path / "bare"
    copy_bundle(directory, bare)
    bundle(probe_program(), bare / "all.bundle", "--with-gconv", "all")
    assert len(list((bare / "all.bundle" / "lib" / "gconv").iterdir())) > 200
    assert run_in(bare, [f"/{directory.name}/probe", "iconv", "CP1252"]).stdout == b"iconv ok e9\n"
    missing = run_in(bare, [f"/{directory.name}/probe", "iconv", "IBM850"])
    assert (missing.returncode, missing.stdout) == (1, b"iconv_open failed: Invalid argument\n")
    every = run_in(bare, ["/all.bundle/probe", "iconv", "IBM850"])
    assert every.stdout == b"iconv ok 82\n", every.stdout + every.stderr  # é in code page 850


def test_nss_files_module_of_the_bundled_glibc(root: Path, launchers: dict[str, str]) -> None:
    assert run_in(root, [launchers["dir"], "user"]).stdout == b"uid0=root\n"


def test_the_program_is_told_its_own_path(
    root: Path, space: tuple[Path, str], launchers: dict[str, str]
) -> None:
    launcher = launchers["dir"]
    directory = launcher.rsplit("/", 1)[0]
    done = run_in(root, [launcher, "env"])
    assert done.stdout == f"exe={directory}/bin/probe launcher={launcher}\n".encode()
    single = run_in(root, [launchers["self-extracting"], "env"], env=_env(space)).stdout.decode()
    assert single.startswith(f"exe={space[1]}/cache/") and single.endswith(
        f" launcher={launchers['self-extracting']}\n"
    )


def test_a_musl_dynamic_program_bundles_too(root: Path, space: tuple[Path, str], tmp_path: Path) -> None:
    program = musl_program()
    assert read_elf(program).interpreter == "/lib/ld-musl-x86_64.so.1"
    here, inside = space
    assert not (root / "lib" / "ld-musl-x86_64.so.1").exists()  # Debian 11 minbase has no musl
    made = copy_bundle(bundle(program, tmp_path / "musl.bundle"), here)
    launcher = f"{inside}/{made.name}/{program.name}"
    done = run_in(root, [launcher])
    assert done.stdout == f"musl argv0={launcher} exe={inside}/{made.name}/bin/{program.name}\n".encode()
    assert run_in(root, [launcher, "exit", "42"]).returncode == 42


def test_check_says_the_bundled_launcher_runs(
    root: Path, space: tuple[Path, str], launchers: dict[str, str]
) -> None:
    try:
        from elfship.check import check_root  # type: ignore[attr-defined]
    except ImportError:
        pytest.skip("elfship.check.check_root is not written yet")
    launcher = root / launchers["dir"].lstrip("/")
    assert check_root(launcher, root).verdict == "runs"
    assert check_root(probe_program(), root).verdict == "fails"
