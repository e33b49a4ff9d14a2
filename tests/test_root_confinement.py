"""A root stays a root (issue 9, item 5): nothing in a root, and nothing about where the program comes from,
makes elfship read this machine's files in its place, hang, or read without bound.

Real programs (gcc at test time), tiny roots made here, the real Debian roots, and the loader inside the
root (chroot) as the truth where a prediction is made.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest

from elfship.resolve import resolve
from elfship.resolve.confined import RootDir, _Kernel
from elfship.resolve.ldconf import read_ld_so_conf
from elfship.resolve.rootfs import FileView, Located
from tests.support.confinement import elfship, glibc_root, hello, make_char_zero, snapshot
from tests.support.fixtures import build_c, debian_root
from tests.test_resolve_support import (
    RPATH,
    dep,
    layout,
    program,
    require_chroot,
    require_host_loader,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "src/elfship/schemas/check.schema.json").read_text()
)
CLIMB = "$ORIGIN/" + "../" * 12 + "usr/lib/x86_64-linux-gnu"


@pytest.fixture(params=["openat2", "nofollow-walk"])
def opener(request: pytest.FixtureRequest) -> str:
    """Both ways a root file is opened: the kernel's RESOLVE_IN_ROOT, and the O_NOFOLLOW walk fallback."""
    saved = _Kernel.usable
    if request.param == "openat2":
        _Kernel.usable = None
        os.close(RootDir("/").open("/", os.O_RDONLY | os.O_DIRECTORY))
        if not _Kernel.usable:
            _Kernel.usable = saved
            pytest.skip("this kernel has no openat2 (Linux >= 5.6), or a seccomp filter refuses it")
    else:
        _Kernel.usable = False
    yield request.param
    _Kernel.usable = saved


def climbing_program() -> Path:
    """hello.c whose DT_RPATH climbs from $ORIGIN to the top and down into the multiarch libc directory."""
    return build_c("hello.c", ldflags=(*RPATH, f"-Wl,-rpath,{CLIMB}"), out_name="climb")


def loader_only_root(top: Path) -> Path:
    """A root with glibc's loader but no libc at all."""
    loader = os.path.realpath("/lib64/ld-linux-x86-64.so.2")
    layout(top, {"lib64/ld-linux-x86-64.so.2": Path(loader)})
    (top / "etc").mkdir(parents=True, exist_ok=True)
    (top / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    return top


def test_a_climbing_rpath_from_outside_fails_against_a_root_without_libc(tmp_path: Path) -> None:
    require_host_loader()
    require_chroot()
    root = loader_only_root(tmp_path / "root")
    prog = climbing_program()
    run = elfship("check", str(prog), "--root", str(root), "--json", cwd=tmp_path)
    run.assert_sane(allowed=(1,))
    document = json.loads(run.stdout)
    jsonschema.validate(document, SCHEMA)
    result = document["results"][0]
    assert (result["verdict"], result["placed_at"]) == ("fails", "/usr/local/bin/climb")
    missing = [f for f in result["findings"] if f["kind"] == "library-missing"]
    assert [f["library"] for f in missing] == ["libc.so.6"]
    first = missing[0]["search_steps"][0]
    assert first["source"] == "rpath" and first["path"].startswith("/usr/local/bin/../")
    # The truth: the root's own loader, the program placed where elfship said, cannot start it.
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "usr/local/bin/climb").write_bytes(prog.read_bytes())
    (root / "usr/local/bin/climb").chmod(0o755)
    truth = subprocess.run(["chroot", str(root), "/usr/local/bin/climb"], capture_output=True, text=True)
    assert truth.returncode != 0 and "libc.so.6" in truth.stderr
    # And with libc where the climbing RPATH lands inside the root, both agree that it runs.
    libc = os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6")
    layout(root, {"usr/lib/x86_64-linux-gnu/libc.so.6": Path(libc)})
    run = elfship("check", str(prog), "--root", str(root), cwd=tmp_path)
    run.assert_sane(allowed=(0,))
    assert "placed at /usr/local/bin/climb inside the root" in run.stdout
    truth = subprocess.run(["chroot", str(root), "/usr/local/bin/climb"], capture_output=True, text=True)
    assert truth.returncode == 0, truth.stderr


def test_at_chooses_the_place_and_origin_follows_it(tmp_path: Path) -> None:
    require_host_loader()
    root = glibc_root(tmp_path / "root")
    prog = program("use_dep.c", [dep()], (*RPATH, "-Wl,-rpath,$ORIGIN/../lib"))
    app = layout(tmp_path / "app", {"bin/prog": prog, "lib/libdep.so.1": dep()})  # shipped next to it
    run = elfship("check", str(app / "bin/prog"), "--root", str(root), cwd=tmp_path)
    run.assert_sane(allowed=(0,))  # app/lib beside it travels with it, placed beside the placed program
    assert "shipped along" in run.stdout and "libdep.so.1 (/usr/local/lib/libdep.so.1" in run.stdout
    (app / "lib/libdep.so.1").unlink()
    run = elfship("check", str(app / "bin/prog"), "--root", str(root), "--json", cwd=tmp_path)
    run.assert_sane(allowed=(1,))  # nothing beside it: the root must have it
    assert "libdep.so.1 => not found" in run.stdout
    layout(root, {"opt/app/lib/libdep.so.1": dep()})
    for at in ("/opt/app/bin/prog", "/opt/app/bin/"):
        run = elfship("check", str(app / "bin/prog"), "--root", str(root), "--at", at, "--json", cwd=tmp_path)
        run.assert_sane(allowed=(0,))
        result = json.loads(run.stdout)["results"][0]
        assert (result["verdict"], result["placed_at"]) == ("runs", "/opt/app/bin/prog")
    matrix = elfship(
        "check",
        str(app / "bin/prog"),
        "--root",
        str(root),
        "--root",
        str(root),
        "--at",
        "/opt/app/bin/prog",
        cwd=tmp_path,
    )
    matrix.assert_sane(allowed=(0,))
    assert f"{app}/bin/prog: placed at /opt/app/bin/prog inside the root" in matrix.stdout
    for bad in ("relative/prog", "/opt/../etc/prog", "/"):
        elfship("check", str(app / "bin/prog"), "--root", str(root), "--at", bad, cwd=tmp_path).assert_sane(
            allowed=(2,)
        )
    elfship(
        "check", str(app / "bin/prog"), "--at", "/opt/x", "--target", "debian:12", cwd=tmp_path
    ).assert_sane(allowed=(2,))


def test_a_symlink_in_the_root_to_a_host_path_is_the_roots_file(tmp_path: Path) -> None:
    require_host_loader()
    root = glibc_root(tmp_path / "root")
    host_program = hello()  # exists on this machine, needs only libc
    layout(root, {"usr/local/bin/tool": str(host_program)})
    link = root / "usr/local/bin/tool"
    # Not in the root at that path: an error, not this machine's copy.
    run = elfship("check", str(link), "--root", str(root), cwd=tmp_path)
    run.assert_sane(allowed=(2,))
    assert "inside the root" in run.stderr
    # The root's own file at that path is another program (it needs libdep.so.1): that one is analysed.
    layout(root, {str(host_program).lstrip("/"): program("use_dep.c", [dep()])})
    run = elfship("check", str(link), "--root", str(root), "--json", cwd=tmp_path)
    run.assert_sane(allowed=(1,))
    result = json.loads(run.stdout)["results"][0]
    assert "placed_at" not in result  # it is the root's file, not placed
    assert [f["library"] for f in result["findings"] if f["kind"] == "library-missing"] == ["libdep.so.1"]
    resolution = resolve(link, root=root, ld_library_path=[])
    assert resolution.program.path == f"{root}{host_program}"
    assert resolution.program_path == "/usr/local/bin/tool" and resolution.placed_at is None
    run = elfship("check", str(link), "--root", str(root), "--at", "/x/y", cwd=tmp_path)
    run.assert_sane(allowed=(2,))  # --at is for programs from outside the root
    # A link to a path this machine does not have, but the root does: the root's file, checked fine.
    gone = tmp_path / "not-on-this-machine/tool"
    layout(root, {"usr/local/bin/other": str(gone), str(gone).lstrip("/"): hello()})
    run = elfship("check", str(root / "usr/local/bin/other"), "--root", str(root), cwd=tmp_path)
    run.assert_sane(allowed=(0,))


def test_include_patterns_are_expanded_inside_the_root(tmp_path: Path) -> None:
    host_confs = glob.glob("/etc/ld.so.conf.d/*.conf")
    if not host_confs:
        pytest.skip("this machine has no /etc/ld.so.conf.d/*.conf to escape to")
    root = tmp_path / "root"
    layout(root, {"etc/escape": "/../../../../../etc"})
    (root / "etc/ld.so.conf.d").mkdir()
    (root / "etc/ld.so.conf.d/mine.conf").write_text("/opt/mine\n")
    (root / "etc/ld.so.conf").write_text(
        "include ../../../../../../../../etc/ld.so.conf.d/*.conf\n"
        "include /etc/escape/ld.so.conf.d/*.conf\n"
        "include ../*/../../../../etc/ld.so.conf.d/*.conf\n"
        f"include {Path(host_confs[0]).parent}/*.conf\n"
    )
    conf = read_ld_so_conf(FileView(root))
    assert conf.directories == ("/opt/mine",), conf
    view = FileView(root)
    for name in conf.files:
        found = view.locate(name)
        assert isinstance(found, Located) and found.host_path.startswith(f"{root}/"), name


def test_confined_opens_never_leave_the_root(tmp_path: Path, opener: str) -> None:
    root = tmp_path / "root"
    (tmp_path / "outside").write_text("host secret\n")
    layout(
        root,
        {
            "etc/abs": str(tmp_path / "outside"),  # absolute: ROOT/<that path>, absent
            "etc/up": "../../../../../../../../" + str(tmp_path / "outside").lstrip("/"),
            "etc/dir": str(tmp_path),
            "etc/loop": "loop",
        },
    )
    view = FileView(root)
    for name in ("/etc/abs", "/etc/up", "/etc/dir/outside"):
        assert view.read_file(name, 1024) == "absent", name
    assert view.read_file("/etc/loop", 1024) == "symlink loop"
    layout(root, {str(tmp_path / "outside").lstrip("/"): tmp_path / "outside"})
    (root / str(tmp_path / "outside").lstrip("/")).write_text("the root's own\n")
    view = FileView(root)
    for name in ("/etc/abs", "/etc/up", "/etc/dir/outside"):
        assert view.read_file(name, 1024) == b"the root's own\n", name
    assert view.read_file("/etc/abs", 4) == "larger than 4 bytes"
    # A path the walk believed free of symlinks, swapped for one before the open (a race): the kernel
    # resolves the link inside the root; the fallback refuses to go through it at all.
    assert view.anchor is not None
    try:
        fd = view.anchor.open("/etc/dir/outside", os.O_RDONLY)
    except OSError:
        assert opener == "nofollow-walk"
    else:
        with os.fdopen(fd, "rb") as handle:
            assert handle.read() == b"the root's own\n"
        assert opener == "openat2"


SPECIAL_KINDS = (
    "fifo",
    "dev-zero-absolute",
    "dev-zero-climbing",
    "dev-zero-of-the-host",
    "loop",
    "directory",
    "sparse-2GiB",
)
CONFIG_PATHS = (
    "etc/ld.so.cache",
    "etc/ld.so.conf",
    "etc/ld.so.conf.d/extra.conf",
    "etc/os-release",
)


def plant(root: Path, relative: str, kind: str) -> None:
    target = root / relative
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero-absolute":
        if not make_char_zero(root / "dev/zero"):
            pytest.skip("mknod needs root (CAP_MKNOD) to make the root's /dev/zero")
        target.symlink_to("/dev/zero")
    elif kind == "dev-zero-climbing":
        if not make_char_zero(root / "dev/zero"):
            pytest.skip("mknod needs root (CAP_MKNOD) to make the root's /dev/zero")
        target.symlink_to("../" * 10 + "dev/zero")
    elif kind == "dev-zero-of-the-host":
        target.symlink_to("/dev/zero")  # the root has no /dev: this machine's must not stand in
    elif kind == "loop":
        target.symlink_to(target.name)
    elif kind == "sparse-2GiB":
        with open(target, "wb") as handle:
            handle.truncate(2 << 30)  # a hole: costs no disk, and must cost no memory either
    else:
        target.mkdir()


@pytest.mark.parametrize("kind", SPECIAL_KINDS)
@pytest.mark.parametrize("relative", CONFIG_PATHS)
def test_special_files_at_config_paths_are_ignored_quickly(tmp_path: Path, relative: str, kind: str) -> None:
    require_host_loader()
    root = glibc_root(tmp_path / "root")
    plant(root, relative, kind)
    before = snapshot(tmp_path)
    run = elfship("check", str(root / "usr/bin/prog"), "--root", str(root), cwd=tmp_path)
    run.assert_sane(allowed=(0,))  # ignored as ld.so (or ldconfig) would: hello still runs there
    if relative == "etc/ld.so.cache" and kind != "dev-zero-of-the-host":
        assert "/etc/ld.so.cache: " in run.stdout and "the loader will not use it" in run.stdout
    if relative == "etc/ld.so.conf" and kind != "dev-zero-of-the-host":
        assert "/etc/ld.so.conf: cannot read" in run.stdout
    targets = elfship("targets", "--root", str(root), "--json", cwd=tmp_path)
    targets.assert_sane(allowed=(0,))
    sources = json.loads(targets.stdout)["targets"][0]["sources"]
    if relative == "etc/os-release" and kind != "dev-zero-of-the-host":
        assert any(s.startswith("etc/os-release ignored: ") for s in sources), sources
    assert snapshot(tmp_path) == before  # nothing written: not in the root, not in TMPDIR/HOME/cwd


def test_the_real_debian_root_reads_the_same_either_way(tmp_path: Path) -> None:
    """The O_NOFOLLOW fallback and openat2 agree on a real root; a climbing RPATH lands in the root."""
    require_host_loader()
    root = debian_root("bookworm")
    files = sorted(p for p in (root / "usr/bin").iterdir() if p.is_file() and not p.is_symlink())
    programs = [p for p in files if p.read_bytes()[:4] == b"\x7fELF"][:25]
    saved = _Kernel.usable
    try:
        answers = []
        for usable in (None, False):
            _Kernel.usable = usable
            answers.append(
                [
                    sorted(
                        (lib.soname, lib.path) for lib in resolve(p, root=root, ld_library_path=[]).libraries
                    )
                    for p in programs
                ]
            )
    finally:
        _Kernel.usable = saved
    assert answers[0] == answers[1]
    assert all(any(name == "libc.so.6" for name, _ in libs) for libs in answers[0])
    resolution = resolve(climbing_program(), root=root, ld_library_path=[])
    libc = next(lib for lib in resolution.libraries if lib.soname == "libc.so.6")
    assert libc.found_via == "rpath" and libc.host_path == f"{root}/usr/lib/x86_64-linux-gnu/libc.so.6"
    run = elfship("check", str(root / "usr/bin/ls"), "--root", str(root), cwd=tmp_path)
    run.assert_sane(allowed=(0,))
