"""`elfship tree`: the box-drawing tree, the JSON document, exit codes and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from benchmarks.hostile_corpus import build_chain

from tests.test_resolve_support import RUNPATH, dep, layout, mid, program, require_host_loader

SCHEMA = json.loads((Path(__file__).parent.parent / "src/elfship/schemas/tree.schema.json").read_text())

pytestmark = pytest.mark.slow


def tree(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elfship", "tree", *args], capture_output=True, text=True)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    require_host_loader()
    prog = program("use_mid.c", [mid()], (*RUNPATH, "-Wl,-rpath,$ORIGIN/lib"))
    return layout(tmp_path, {"prog": prog, "lib/libmid.so.1": mid()})  # libdep is missing


def test_text_tree_shows_how_each_library_was_found(app: Path) -> None:
    result = tree("--ld-library-path", "", str(app / "prog"))
    assert result.returncode == 1  # something is missing: answered "no"
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{app}/prog [dynamic, glibc")
    assert f"└── libmid.so.1 => {app}/lib/libmid.so.1 [runpath]" in lines
    missing = next(i for i, line in enumerate(lines) if "libdep.so.1 => not found" in line)
    assert lines[missing].startswith("    └── ")
    assert lines[missing + 1].strip().startswith("1. [ld.so.cache] /etc/ld.so.cache: no entry")
    assert "hidden: libc.so.6" in result.stdout


def test_all_shows_libc_and_the_loader(app: Path) -> None:
    result = tree("--all", "--ld-library-path", "", str(app / "prog"))
    assert "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 [ld.so.cache]" in result.stdout
    assert "[interpreter]" in result.stdout and "hidden" not in result.stdout


def test_json_follows_the_schema(app: Path) -> None:
    (app / "lib/libdep.so.1").write_bytes(Path(dep()).read_bytes())
    # libmid has no RUNPATH of its own: LD_LIBRARY_PATH is what finds libdep for it.
    result = tree("--json", "--ld-library-path", str(app / "lib"), str(app / "prog"))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["missing"] == []
    sonames = [lib["soname"] for lib in document["libraries"]]
    assert sonames == ["libmid.so.1", "libc.so.6", "libdep.so.1", "ld-linux-x86-64.so.2"]  # breadth first
    libdep = document["libraries"][2]
    assert (libdep["needed_by"], libdep["found_via"]) == (["libmid.so.1"], "LD_LIBRARY_PATH")
    assert document["libraries"][3] == document["interpreter"]


def test_ld_library_path_is_split_as_glibc_splits_it(app: Path) -> None:
    """';' separates elements too (glibc's _dl_init_paths), for --ld-library-path as for the variable."""
    (app / "lib/libdep.so.1").write_bytes(Path(dep()).read_bytes())
    for value in (f"/nonexistent;{app / 'lib'}", f"/nonexistent:{app / 'lib'}"):
        result = tree("--json", "--ld-library-path", value, str(app / "prog"))
        assert result.returncode == 0, result.stderr
        libdep = next(lib for lib in json.loads(result.stdout)["libraries"] if lib["soname"] == "libdep.so.1")
        assert libdep["found_via"] == "LD_LIBRARY_PATH", value


def test_json_lists_missing_libraries_with_their_steps(app: Path) -> None:
    result = tree("--json", "--ld-library-path", "", str(app / "prog"))
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    (missing,) = document["missing"]
    assert missing["soname"] == "libdep.so.1" and missing["path"] is None
    assert missing["steps"][0] == {"source": "ld.so.cache", "path": "/etc/ld.so.cache", "outcome": "no entry"}
    assert missing in document["libraries"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--root", "/nonexistent-root", "/bin/sh"], "root /nonexistent-root does not exist"),
        (["/etc/hostname"], "not an ELF file"),
        (["/nonexistent-file"], "/nonexistent-file"),
        (["--isa", "x86-64-v9", "/bin/sh"], "unknown ISA level"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    require_host_loader()
    result = tree(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_help_teaches() -> None:
    result = tree("--help")
    assert "examples:" in result.stdout and "[rpath of X]" in result.stdout and "exit codes" in result.stdout


# Deep chains ------------------------------------------------------------------------------------------------
# A chain of real libraries, each NEEDing the next (gcc builds one, the rest are byte copies with their two
# names patched; benchmarks/hostile_corpus.py). Recursion over it used to end in a RecursionError at ~1,000.


def _chain(tmp_path: Path, depth: int) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed (apt-get install gcc)")
    return build_chain(tmp_path / "chain", depth)


def test_chain_matches_the_real_loader(tmp_path: Path) -> None:
    """Truth for the chain builder and the walk: ld.so --list maps exactly the libraries tree finds."""
    require_host_loader()
    program = _chain(tmp_path, 150)
    listed = subprocess.run(
        ["/lib64/ld-linux-x86-64.so.2", "--list", str(program)], capture_output=True, text=True, check=True
    ).stdout
    loader = {line.split(" => ")[1].split(" (")[0] for line in listed.splitlines() if "libchain" in line}
    document = json.loads(tree("--json", str(program)).stdout)
    assert loader == {lib["path"] for lib in document["libraries"] if "libchain" in lib["soname"]}
    assert len(loader) == 150


def test_tree_and_check_handle_a_5000_deep_chain(tmp_path: Path) -> None:
    require_host_loader()
    program = _chain(tmp_path, 5000)
    text = tree(str(program))
    assert text.returncode == 0 and "Traceback" not in text.stderr, text.stderr[-2000:]
    lines = text.stdout.splitlines()
    assert sum("libchain" in line for line in lines) == 5000
    assert lines[-2].lstrip(" └─").startswith("[depth 5000] libchain04999.so => ")
    assert max(map(len, lines)) < 400  # indentation stops growing: the text is linear in the depth
    document = json.loads(tree("--json", str(program)).stdout)
    jsonschema.validate(document, SCHEMA)
    chain_edges = [edge for edge in document["edges"] if "libchain" in edge[1]]
    assert len(chain_edges) == 5000 and document["missing"] == []
    # check --root over the same chain, inside a root made of the host's loader and libc plus the chain.
    root = tmp_path / "root"
    for library in ("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6"):
        target = root / library.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(library, target)
    shutil.move(str(program.parent), root / "opt")
    check = subprocess.run(
        [sys.executable, "-m", "elfship", "check", "--root", str(root), str(root / "opt/prog")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and "Traceback" not in check.stderr, check.stderr[-2000:]
    assert "RUNS" in check.stdout
