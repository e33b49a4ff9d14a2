"""What travels with a program ($ORIGIN-relative RPATH/RUNPATH, found beside it) counts as present on a
named target, and is checked itself: its own libraries and version needs must come from the target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from elfship.check import check_path
from elfship.check.model import CheckResult
from elfship.targets import get_target
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c, debian_root
from tests.support.wheels import wheel

DEBIAN12 = get_target("debian:12")
SCHEMA = json.loads(resources.files("elfship").joinpath("schemas/check.schema.json").read_text())


def app_with_lib(tmp_path: Path, library: Path, rpath: str = "$ORIGIN/../lib") -> Path:
    """bin/app needing libversioned.so.1 through RPATH, with library copied to lib/."""
    program = build_c(
        "uses_shared.c",
        ldflags=[str(versioned_library()), "-Wl,--enable-new-dtags", f"-Wl,-rpath,{rpath}"],
        out_name="app-" + ("origin" if "$ORIGIN" in rpath else "absolute"),
    )
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    shutil.copy(program, tmp_path / "bin" / "app")
    shutil.copy(library, tmp_path / "lib" / "libversioned.so.1")
    return tmp_path / "bin" / "app"


def shipped(result: CheckResult) -> list[dict[str, object]]:
    found = [f for f in result.findings if f.kind == "shipped-along"]
    return list(found[0].evidence["libraries"]) if found else []


def test_a_library_beside_the_program_travels_with_it(tmp_path: Path) -> None:
    app = app_with_lib(tmp_path, versioned_library())
    assert subprocess.run([str(app)]).returncode == 0  # the loader finds it there
    result = check_path(str(app), DEBIAN12)
    assert result.verdict == "runs", result.findings
    (library,) = shipped(result)
    assert library["soname"] == "libversioned.so.1" and library["path"] == str(
        tmp_path / "lib/libversioned.so.1"
    )
    (tmp_path / "lib" / "libversioned.so.1").unlink()
    gone = check_path(str(app), DEBIAN12)
    assert gone.verdict == "fails" and {f.kind for f in gone.errors} == {"library-not-in-base"}


def test_an_absolute_rpath_names_the_target_not_the_payload(tmp_path: Path) -> None:
    app = app_with_lib(tmp_path, versioned_library(), rpath=str(tmp_path / "lib"))
    result = check_path(str(app), DEBIAN12)
    assert result.verdict == "fails" and not shipped(result)


def test_a_shipped_librarys_own_needs_come_from_the_target(tmp_path: Path) -> None:
    needs_pq = build_c(
        "libneedspq.c",
        cflags=["-shared", "-fPIC", "-I/usr/include/postgresql"],
        ldflags=["-Wl,-soname,libversioned.so.1", "-lpq"],
        out_name="libneedspq.so",
    )
    app = build_c(
        "exit42.c",
        ldflags=["-Wl,--no-as-needed", str(needs_pq), "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib"],
    )
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    shutil.copy(app, tmp_path / "bin" / "app")
    shutil.copy(needs_pq, tmp_path / "lib" / "libversioned.so.1")
    result = check_path(str(tmp_path / "bin" / "app"), DEBIAN12)
    (error,) = result.errors
    assert (error.kind, error.evidence["library"], error.evidence["needed_by"]) == (
        "library-not-in-base",
        "libpq.so.5",
        "libversioned.so.1",
    )
    assert "apt-get install libpq5" in error.message


def test_a_version_need_on_a_shipped_library_is_judged_against_that_file(tmp_path: Path) -> None:
    older = build_c(
        "libshared.c",
        cflags=["-shared", "-fPIC"],
        ldflags=["-Wl,-soname,libversioned.so.1", f"-Wl,--version-script,{_old_map(tmp_path)}"],
        out_name="libversioned-old.so.1",
    )
    app = app_with_lib(tmp_path, older)
    truth = subprocess.run([str(app)], capture_output=True, text=True)
    assert truth.returncode != 0 and "version `LIBSHARED_1.0' not found" in truth.stderr
    result = check_path(str(app), DEBIAN12)
    (error,) = result.errors
    assert error.kind == "version-too-new" and error.evidence["versions"] == ["LIBSHARED_1.0"]
    assert "shipped along" in error.message and "defines up to LIBSHARED_0.9" in error.message


def _old_map(tmp_path: Path) -> Path:
    script = tmp_path / "old.map"
    script.write_text("LIBSHARED_0.9 { global: shared_answer; local: *; };\n")
    return script


# -- a directory or a wheel as a whole ----------------------------------------------------------------------


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elfship", *args], capture_output=True, text=True, timeout=300
    )


def test_a_directory_is_checked_as_its_programs_with_what_they_ship(tmp_path: Path) -> None:
    app_with_lib(tmp_path, versioned_library())
    proc = elfship("check", str(tmp_path), "-t", "debian:12", "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    # lib/libversioned.so.1 travels with bin/app: it is checked as part of it, not on its own.
    assert [(r["path"], r["verdict"]) for r in document["results"]] == [
        (str(tmp_path / "bin" / "app"), "runs")
    ]


def test_a_wheel_is_checked_as_its_modules(tmp_path: Path) -> None:
    path = wheel("numpy==2.1.3", "manylinux2014_x86_64")
    with zipfile.ZipFile(path) as archive:
        modules = sorted(n for n in archive.namelist() if n.endswith(".so") and ".libs/" not in n)
    proc = elfship("check", str(path), "-t", "debian:12", "-t", "manylinux_2_12", "--json")
    results = json.loads(proc.stdout)["results"]
    assert proc.returncode == 1  # numpy's manylinux_2_17 modules need GLIBC_2.14 and newer
    on = {
        t: {r["path"]: r["verdict"] for r in results if r["target"] == t}
        for t in ("debian:12", "manylinux:2010")
    }
    assert sorted(on["debian:12"]) == [f"{path}:{m}" for m in modules]
    assert set(on["debian:12"].values()) == {"runs"} and "fails" in on["manylinux:2010"].values()


def test_payload_problems_are_one_line_errors(tmp_path: Path) -> None:
    fake = tmp_path / "fake.whl"
    fake.write_text("not a zip")
    proc = elfship("check", str(fake), "-t", "debian:12")
    assert proc.returncode == 2 and proc.stderr.startswith(f"elfship: error: {fake}: not a readable wheel")
    rooted = elfship("check", str(tmp_path), "--root", "/")
    assert rooted.returncode == 2 and "named targets (--target) only" in rooted.stderr
    assert "Traceback" not in proc.stderr + rooted.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_a_bundle_runs_on_every_target_its_glibc_allows(tmp_path: Path) -> None:
    program = build_c("uses_libpq.c", cflags=["-I/usr/include/postgresql"], ldflags=["-lpq", "-lm"])
    made = elfship("bundle", str(program), "-o", str(tmp_path / "app.bundle"))
    assert made.returncode == 0, made.stderr
    bundle = tmp_path / "app.bundle"
    proc = elfship("check", str(bundle), "-t", "debian:10", "-t", "debian:11", "-t", "alpine:3.19", "--json")
    assert proc.returncode == 0, proc.stdout
    verdicts = {
        (Path(r["path"]).relative_to(bundle).as_posix(), r["verdict"])
        for r in json.loads(proc.stdout)["results"]
    }
    assert verdicts == {("uses_libpq", "runs"), ("bin/uses_libpq", "runs")}
    # The glibc inside still needs its kernel: Oracle Linux 6 ships 2.6.32.
    old = json.loads(elfship("check", str(bundle), "-t", "oracle:6", "--json").stdout)["results"]
    program_result = next(r for r in old if r["path"].endswith("bin/uses_libpq"))
    assert [f["kind"] for f in program_result["findings"] if f["severity"] == "error"] == ["kernel-too-old"]
    # Truth: the bundle copied into the Debian 11 root starts there (the program alone does not).
    root = debian_root("bullseye")
    inside = root / "tmp" / f"elfship-shipped-{os.getpid()}"
    shutil.copytree(bundle, inside, symlinks=True)
    try:
        run = subprocess.run(
            ["chroot", str(root), f"/tmp/{inside.name}/uses_libpq"], capture_output=True, text=True
        )
    finally:
        shutil.rmtree(inside)
    assert run.returncode == 0 and run.stdout.startswith("libpq "), run.stderr
