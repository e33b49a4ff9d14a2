"""elfship bundle on bad input and on the edges of its policy: one-line errors, nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from elfship.elf import read_elf
from tests.support.fixtures import SOURCES, build_c
from tests.test_bundle_common import assert_one_line_error, bundle, elfship

SCHEMA = json.loads((Path(__file__).parent.parent / "src/elfship/schemas/bundle.schema.json").read_text())


def _gcc(*args: str) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed (apt-get install gcc)")
    subprocess.run(["gcc", *args], check=True, capture_output=True)


def _library(directory: Path, soname: str, who: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / soname
    _gcc(
        "-shared",
        "-fPIC",
        f'-DWHO="{who}"',
        f"-Wl,-soname,{soname}",
        "-o",
        str(out),
        str(SOURCES / "bundle/who.c"),
    )
    return out


def _program(out: Path, library: Path, *ldflags: str) -> Path:
    _gcc(
        "-o",
        str(out),
        str(SOURCES / "bundle/who_main.c"),
        f"-L{library.parent}",
        f"-l:{library.name}",
        *ldflags,
    )
    return out


def _leftovers(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if "elfship-tmp" in name]


@pytest.fixture
def who(tmp_path: Path) -> tuple[Path, Path]:
    """A program needing libwho.so.1, found through its RPATH: (program, library)."""
    library = _library(tmp_path / "libdir", "libwho.so.1", "a")
    program = _program(tmp_path / "who", library, f"-Wl,--disable-new-dtags,-rpath,{library.parent}")
    return program, library


@pytest.fixture
def ro_dir(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "readonly"
    target.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(target)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("mount not permitted here (needs root and mount rights)")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_static_program_is_copied_as_is(tmp_path: Path) -> None:
    program = build_c("exit42.c", cflags=["-static"], out_name="exit42-static")
    done = elfship("bundle", str(program), "-o", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    assert "static: nothing to bundle" in done.stderr
    copy = tmp_path / "out" / program.name
    assert copy.read_bytes() == program.read_bytes()
    assert subprocess.run([str(copy)], check=False).returncode == 42
    assert json.loads(done.stdout)["launcher"] == "none"
    single = bundle(program, tmp_path / "one.run")
    assert single.read_bytes() == program.read_bytes()


def test_missing_library_fails_with_the_search_steps(tmp_path: Path) -> None:
    library = _library(tmp_path / "gone", "libgone.so.1", "x")
    program = _program(tmp_path / "needs-gone", library)
    kept = tmp_path / "kept"
    shutil.move(library.parent, kept)
    done = elfship("bundle", str(program), "-o", str(tmp_path / "out"))
    assert_one_line_error(done, "libgone.so.1 (needed by needs-gone) not found", "searched", "--add")
    assert "/usr/lib/x86_64-linux-gnu/libgone.so.1" in done.stderr  # a step it tried
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)
    fixed = elfship("bundle", str(program), "-o", str(tmp_path / "out"), "--add", str(kept / "libgone.so.1"))
    assert fixed.returncode == 0, fixed.stderr
    assert (
        subprocess.run([str(tmp_path / "out/needs-gone")], capture_output=True, check=False).stdout == b"x\n"
    )


def test_add_brings_a_plugin_and_its_own_dependencies(who: tuple[Path, Path], tmp_path: Path) -> None:
    extra = _library(tmp_path / "extra", "libextra.so.1", "extra")
    plugin = tmp_path / "plugins" / "libplug.so"
    plugin.parent.mkdir()
    plugin_c = str(SOURCES / "bundle/plugin.c")
    _gcc("-shared", "-fPIC", "-o", str(plugin), plugin_c, str(extra), f"-Wl,-rpath,{extra.parent}")
    done = elfship("bundle", str(who[0]), "-o", str(tmp_path / "out"), "--add", str(plugin), "--json")
    assert done.returncode == 0, done.stderr
    files = {f["path"]: f for f in json.loads(done.stdout)["files"]}
    assert files["lib/libplug.so"]["role"] == "added" and files["lib/libplug.so"]["rpath_removed"]
    assert files["lib/libextra.so.1"]["reason"] == "needed by libplug.so"


def test_out_exists_is_refused_unless_force(who: tuple[Path, Path], tmp_path: Path) -> None:
    out = bundle(who[0], tmp_path / "out")
    assert_one_line_error(elfship("bundle", str(who[0]), "-o", str(out)), "already exists", "--force")
    assert elfship("bundle", str(who[0]), "-o", str(out), "--force").returncode == 0
    assert (out / "who").is_file() and not _leftovers(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert_one_line_error(elfship("bundle", str(who[0]), "-o", str(mine), "--force"), "not an elfship bundle")
    assert (mine / "notes.txt").read_text() == "keep me"
    file_out = tmp_path / "who.tar.gz"
    file_out.write_text("keep me too")
    assert_one_line_error(elfship("bundle", str(who[0]), "-o", str(file_out)), "already exists")
    assert file_out.read_text() == "keep me too"


def test_out_not_writable(who: tuple[Path, Path], ro_dir: Path) -> None:
    done = elfship("bundle", str(who[0]), "-o", str(ro_dir / "out"))
    assert_one_line_error(done, "cannot write", "not writable")
    missing_parent = elfship("bundle", str(who[0]), "-o", str(ro_dir / "no" / "such" / "out"))
    assert_one_line_error(missing_parent, "is not a directory")


def test_inputs_that_are_not_programs(who: tuple[Path, Path], tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    assert_one_line_error(elfship("bundle", str(text), "-o", str(tmp_path / "a")), "notes.txt")
    assert_one_line_error(
        elfship("bundle", str(tmp_path / "nope"), "-o", str(tmp_path / "b")), "no such file"
    )
    assert_one_line_error(
        elfship("bundle", str(who[1]), "-o", str(tmp_path / "c")), "shared-library", "--add"
    )
    done = elfship("bundle", str(who[0]), "-o", str(tmp_path / "d"), "--add", str(text))
    assert_one_line_error(done, "notes.txt")
    done = elfship("bundle", str(who[0]), "-o", str(tmp_path / "e"), "--add", str(tmp_path))
    assert_one_line_error(done, "a directory")
    assert not _leftovers(tmp_path)


def test_rpath_never_pulls_libraries_from_the_machine_it_runs_on(
    who: tuple[Path, Path], tmp_path: Path
) -> None:
    program, library = who
    assert read_elf(program).rpath == (str(library.parent),)
    out = bundle(program, tmp_path / "out")
    assert (
        read_elf(out / "bin/who").rpath == () and read_elf(program).rpath
    )  # the copy changed, not the original
    _library(library.parent, "libwho.so.1", "b")  # what the RPATH directory offers after bundling
    assert subprocess.run([str(program)], capture_output=True, check=False).stdout == b"b\n"
    assert subprocess.run([str(out / "who")], capture_output=True, check=False).stdout == b"a\n"


def test_excluded_libraries_stay_with_the_host(tmp_path: Path) -> None:
    jack = _library(tmp_path / "jackdir", "libjack.so.0", "jack")
    program = _program(tmp_path / "player", jack, f"-Wl,-rpath,{jack.parent}")
    done = elfship("bundle", str(program), "-o", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [(e["soname"], e["pattern"]) for e in document["excluded"]] == [("libjack.so.0", "libjack.so*")]
    assert not (tmp_path / "out/lib/libjack.so.0").exists()
    # The host's libjack may live where only ld.so.conf knows: the launcher keeps the ld.so.cache then.
    assert b"--inhibit-cache" not in (tmp_path / "out/player").read_bytes()
    mine = elfship("bundle", str(program), "-o", str(tmp_path / "out2"), "--exclude", "libc.so*", "--json")
    assert "glibc left out" in mine.stderr


def test_glibc_goes_all_or_nothing(who: tuple[Path, Path], tmp_path: Path) -> None:
    done = elfship("bundle", str(who[0]), "-o", str(tmp_path / "out"), "--exclude", "libm.so.6", "--json")
    assert done.returncode == 0, done.stderr
    assert "glibc left out" in done.stderr
    paths = {f["path"] for f in json.loads(done.stdout)["files"]}
    assert not any(p.startswith(("lib/libc.so", "lib/libm.so", "lib/ld-linux")) for p in paths)
    assert "lib/libwho.so.1" in paths
    # Runs on this machine's glibc through this machine's loader.
    assert subprocess.run([str(tmp_path / "out/who")], capture_output=True, check=False).stdout == b"a\n"
    whole = json.loads(elfship("bundle", str(who[0]), "-o", str(tmp_path / "o2"), "--json").stdout)
    roles = {f["path"]: f["role"] for f in whole["files"]}
    for part in ("libc.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1"):
        assert roles[f"lib/{part}"] == "glibc"
    assert "lib/libm.so.6" not in roles  # a large part nothing links (tests/test_bundle_size.py)
    assert roles["lib/ld-linux-x86-64.so.2"] == "loader"
    assert roles["lib/libnss_files.so.2"] == roles["lib/libnss_dns.so.2"] == "nss"


@pytest.mark.parametrize("fmt", ["dir", "tar", "self-extracting"])
def test_json_follows_the_schema(who: tuple[Path, Path], tmp_path: Path, fmt: str) -> None:
    done = elfship("bundle", str(who[0]), "-o", str(tmp_path / "out"), "--format", fmt, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["format"] == fmt and document["launcher"] == "static"
    out = tmp_path / "out"
    on_disk = (
        sum(os.lstat(os.path.join(top, f)).st_size for top, _, files in os.walk(out) for f in files)
        if fmt == "dir"
        else out.stat().st_size
    )
    assert document["output_size"] == on_disk


def test_a_symlink_to_the_launcher_still_finds_the_bundle(who: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "opt").mkdir()
    bundle(who[0], tmp_path / "opt" / "who.bundle")
    links = tmp_path / "usr-local-bin"
    links.mkdir()
    (links / "who").symlink_to("../opt/who.bundle/who")  # relative, like `ln -s` in /usr/local/bin
    done = subprocess.run([str(links / "who")], capture_output=True, check=False)
    assert done.stdout == b"a\n", done.stderr


def _members(archive: Path) -> list[tuple[str, int, int, int, str]]:
    with tarfile.open(archive) as tar:
        return [(m.name, m.size, m.mode, m.mtime, m.linkname) for m in tar.getmembers()]


def test_tarball_is_reproducible(who: tuple[Path, Path], tmp_path: Path) -> None:
    for directory in ("a", "b"):
        (tmp_path / directory).mkdir()
    first = bundle(who[0], tmp_path / "a" / "who.tar.gz")
    second = bundle(who[0], tmp_path / "b" / "who.tar.gz")
    assert _members(first) == _members(second)  # names, sizes, modes and times first: a readable diff
    assert first.read_bytes() == second.read_bytes()
    single = [bundle(who[0], tmp_path / d / "who.run").read_bytes() for d in ("a", "b")]
    assert single[0] == single[1]


def test_text_output_says_what_went_in(who: tuple[Path, Path], tmp_path: Path) -> None:
    done = elfship("bundle", str(who[0]), "-o", str(tmp_path / "out"))
    assert done.returncode == 0
    assert "lib/libwho.so.1" in done.stdout and "needed by who" in done.stdout
    assert "RPATH removed" in done.stdout and "run it:" in done.stdout


def test_help_teaches() -> None:
    done = elfship("bundle", "--help")
    assert done.returncode == 0
    for phrase in ("examples:", "--format", "ELFSHIP_EXE", "libGL", "self-extracting"):
        assert phrase in done.stdout
