"""`elfship sbom` on real builds: a Rust crate bundling SQLite and zlib (with and without cargo-auditable), a C
program linked statically against Debian's OpenSSL and zlib, a dynamic program that only prints
OPENSSL_VERSION_TEXT, and a Go program. Ground truth comes from Cargo.lock, dpkg and the programs themselves."""

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

from elfship.report.sbom_cyclonedx import to_cyclonedx, validation_errors
from elfship.report.sbom_spdx import to_spdx
from elfship.sbom import ComponentKind, Confidence, inventory
from tests.support.fixtures import build_c
from tests.support.sbom_fixtures import (
    CARGO_FIXTURES,
    dpkg_version,
    go_program,
    prints_openssl_version,
    sqlitez,
    static_everything,
    static_openssl_zlib,
    upstream_of_debian,
)

pytestmark = pytest.mark.slow
SRC = Path(__file__).resolve().parent.parent / "src"


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-m", "elfship", *args], capture_output=True, text=True, env=env)


def c_libraries(path: Path) -> dict[str, str | None]:
    return {c.name: c.version for c in inventory(path).embedded_c_libraries}


def locked_versions() -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    lock = tomllib.loads((CARGO_FIXTURES / "sqlitez" / "Cargo.lock").read_text())
    return {p["name"]: p["version"] for p in lock["package"]}


def own_report(program: Path) -> str:
    """What the fixture says about itself when run (the test's ground truth; elfship never runs it)."""
    return subprocess.run([str(program)], capture_output=True, text=True, timeout=30, check=True).stdout


def test_static_c_program_embeds_debian_openssl_and_zlib() -> None:
    program = static_openssl_zlib()
    found = c_libraries(program)
    assert found == {
        "openssl": upstream_of_debian(dpkg_version("libssl-dev")),
        "zlib": upstream_of_debian(dpkg_version("zlib1g-dev")),
    }
    inv = inventory(program)
    assert [c.name for c in inv.of_kind(ComponentKind.LIBC)] == ["glibc"]
    openssl = next(c for c in inv.embedded_c_libraries if c.name == "openssl")
    assert openssl.confidence is Confidence.HIGH and len(openssl.evidence) >= 2
    assert openssl.cpe is not None and openssl.cpe.startswith("cpe:2.3:a:openssl:openssl:3.")


def test_sqlite_version_from_its_own_variable_when_texts_are_ambiguous() -> None:
    found = c_libraries(static_everything())
    assert found == {
        "openssl": upstream_of_debian(dpkg_version("libssl-dev")),
        "zlib": upstream_of_debian(dpkg_version("zlib1g-dev")),
        "sqlite": upstream_of_debian(dpkg_version("libsqlite3-dev")),
    }


def test_dynamic_program_printing_openssl_version_does_not_embed_it() -> None:
    program = prints_openssl_version()
    assert "OpenSSL 3." in own_report(program)  # it does carry the version text
    inv = inventory(program)
    assert inv.embedded_c_libraries == ()
    loaded = {c.name: c for c in inv.of_kind(ComponentKind.SYSTEM_LIBRARY)}
    libssl = loaded["libssl.so.3"]
    assert (libssl.package, libssl.version) == ("libssl3", dpkg_version("libssl3"))
    assert libssl.source_package == "openssl" and libssl.ecosystem is not None
    assert libssl.purl is not None and libssl.purl.startswith("pkg:deb/debian/libssl3@")


def test_rust_crate_bundling_sqlite_and_zlib_without_dep_v0() -> None:
    program = sqlitez(auditable=False)
    report = own_report(program)  # "sqlite 3.39.0 open=0 zlib 1.4 ..."
    sqlite_version = report.split()[1]
    found = c_libraries(program)
    assert found["sqlite"] == sqlite_version
    assert "zlib" in found  # its banner is gone (linker GC), so its version may be unknown: never guessed
    assert found["zlib"] in (None, report.split()[4])
    inv = inventory(program)
    assert "dep-v0" not in inv.sources
    assert all(c.confidence is Confidence.HEURISTIC for c in inv.of_kind(ComponentKind.RUST_CRATE))
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.split()[1]
    assert [(c.name, c.version) for c in inv.of_kind(ComponentKind.TOOLCHAIN) if c.name == "rustc"] == [
        ("rustc", rustc)
    ]


def test_rust_crate_built_with_cargo_auditable_lists_exact_crates_and_graph() -> None:
    program = sqlitez(auditable=True)
    inv = inventory(program)
    assert "dep-v0" in inv.sources
    crates = {c.name: c for c in inv.of_kind(ComponentKind.RUST_CRATE)}
    locked = locked_versions()
    runtime = {"sqlitez", "libsqlite3-sys", "libz-sys"}
    assert runtime <= set(crates)
    assert all(crates[name].version == locked[name] for name in crates)
    assert all(c.confidence is Confidence.EXACT for c in crates.values())
    assert {f"libsqlite3-sys@{locked['libsqlite3-sys']}", f"libz-sys@{locked['libz-sys']}"} <= set(
        crates["sqlitez"].dependencies
    )
    assert crates["libsqlite3-sys"].purl == f"pkg:cargo/libsqlite3-sys@{locked['libsqlite3-sys']}"
    sqlite = next(c for c in inv.embedded_c_libraries if c.name == "sqlite")
    assert sqlite.package == "libsqlite3-sys"  # the crate that built it, confirmed by content


def test_go_program_build_info(tmp_path: Path) -> None:
    program = go_program()
    inv = inventory(program)
    go_version = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
    stdlib = [c for c in inv.components if c.name == "stdlib"]
    assert [(c.version, c.ecosystem) for c in stdlib] == [(go_version.removeprefix("go"), "Go")]
    modules = inv.of_kind(ComponentKind.GO_MODULE)
    assert [m.name for m in modules] == ["example.com/elfship/gohello"]
    from tests.support.fixtures import strip_section_headers

    sstripped = inventory(strip_section_headers(program, tmp_path / "gohello-sstripped"))
    assert [(c.name, c.version) for c in sstripped.components if c.kind is not ComponentKind.LIBC] == [
        (c.name, c.version) for c in inv.components if c.kind is not ComponentKind.LIBC
    ]


def test_cyclonedx_and_spdx_documents_are_valid() -> None:
    inventories = [inventory(static_openssl_zlib()), inventory(prints_openssl_version())]
    for chosen in (inventories[:1], inventories):
        document = to_cyclonedx(chosen)
        assert validation_errors(document) is None
    bom = json.loads(to_cyclonedx(inventories[:1]))
    assert bom["specVersion"] == "1.6"
    purls = {c.get("purl") for c in bom["components"]}
    assert any(p and p.startswith("pkg:generic/openssl@3.") for p in purls)
    assert validation_errors('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": 3}') is not None
    spdx_text = to_spdx(inventories)
    spdx = json.loads(spdx_text)
    ids = {p["SPDXID"] for p in spdx["packages"]} | {"SPDXRef-DOCUMENT"}
    assert spdx["spdxVersion"] == "SPDX-2.3" and len(ids) == len(spdx["packages"]) + 1
    assert all(r["spdxElementId"] in ids and r["relatedSpdxElement"] in ids for r in spdx["relationships"])


def test_cli_json_matches_schema_and_bad_files_exit_2(tmp_path: Path) -> None:
    not_elf = tmp_path / "notes.txt"
    not_elf.write_text("hello\n")
    done = elfship("sbom", "--json", str(static_openssl_zlib()), str(not_elf))
    assert done.returncode == 2
    document = json.loads(done.stdout)
    schema = json.loads(resources.files("elfship").joinpath("schemas/sbom.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert [e["path"] for e in document["errors"]] == [str(not_elf)]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    table = elfship("sbom", str(static_openssl_zlib()))
    assert table.returncode == 0 and "embeds openssl 3." in table.stdout


def test_corrupt_dep_v0_is_one_line_error(tmp_path: Path) -> None:
    from elfship.elf.image import Image
    from elfship.sbom.sections import SectionView

    program = sqlitez(auditable=True)
    with Image(str(program)) as image:
        section = SectionView(image).sections[".dep-v0"]
    data = bytearray(program.read_bytes())
    data[section.offset : section.offset + section.size] = b"\xff" * section.size
    broken = tmp_path / "broken"
    broken.write_bytes(bytes(data))
    done = elfship("sbom", str(broken))
    assert done.returncode == 2
    assert done.stderr.startswith("elfship: error: ") and ".dep-v0" in done.stderr
    assert "Traceback" not in done.stderr


def test_hostile_copies_never_crash(tmp_path: Path) -> None:
    """Truncated files and scribbled-over section headers: an inventory or a one-line error, nothing else."""
    import random

    from elfship.errors import ElfError

    source = sqlitez(auditable=True).read_bytes()
    rng = random.Random(10)
    shoff = int.from_bytes(source[0x28:0x30], "little")
    copies = [source[:n] for n in (64, 4096, len(source) // 3, len(source) - 1)]
    for _ in range(12):
        data = bytearray(source)
        start = rng.randrange(shoff, len(source) - 64)
        data[start : start + 64] = rng.randbytes(64)
        copies.append(bytes(data))
    for index, data in enumerate(copies):
        path = tmp_path / f"copy{index}"
        path.write_bytes(data)
        try:
            inventory(path, libraries=False)
        except ElfError as exc:
            assert "\n" not in exc.one_line()


def test_cli_formats() -> None:
    program = str(static_openssl_zlib())
    cyclonedx = elfship("sbom", "--format", "cyclonedx", program)
    assert cyclonedx.returncode == 0 and validation_errors(cyclonedx.stdout) is None
    spdx = elfship("sbom", "--format", "spdx", program)
    assert spdx.returncode == 0 and json.loads(spdx.stdout)["spdxVersion"] == "SPDX-2.3"
    both = elfship("sbom", "--json", "--format", "spdx", program)
    assert both.returncode == 2 and both.stderr.startswith("elfship: error: ") and "fix:" in both.stderr


def test_loaded_libraries_inside_a_root_name_that_roots_packages() -> None:
    from tests.support.fixtures import debian_root

    root = debian_root("bullseye")
    inv = inventory(root / "usr" / "bin" / "ls", root=str(root))
    loaded = {c.name: c for c in inv.of_kind(ComponentKind.SYSTEM_LIBRARY)}
    admindir = f"--admindir={root / 'var' / 'lib' / 'dpkg'}"
    truth = subprocess.run(
        ["dpkg-query", admindir, "-W", "-f=${Version}", "libc6"], capture_output=True, text=True, check=True
    ).stdout
    libc = loaded["libc.so.6"]
    assert (libc.package, libc.version, libc.ecosystem, libc.source_package) == (
        "libc6",
        truth,
        "Debian:11",
        "glibc",
    )
    assert libc.purl is not None and "distro=debian-11" in libc.purl


def test_static_musl_program_names_musl() -> None:
    from tests.support.fixtures import build_c

    program = build_c("hello.c", compiler="zig", zig_target="x86_64-linux-musl", ldflags=["-static"])
    inv = inventory(program)
    assert [c.name for c in inv.of_kind(ComponentKind.LIBC)] == ["musl"]
    assert inv.embedded_c_libraries == ()


DEBIAN_LIBRARIES = [  # (file, component, the dpkg package whose upstream version it must report)
    ("libcrypto.so.3", "openssl", "libssl3"),
    ("libz.so.1", "zlib", "zlib1g"),
    ("libsqlite3.so.0", "sqlite", "libsqlite3-0"),
    ("libcurl.so.4", "curl", "libcurl4"),
    ("libpq.so.5", "libpq", "libpq5"),
]


@pytest.mark.parametrize(("soname", "name", "package"), DEBIAN_LIBRARIES)
def test_debian_builds_of_each_library_are_recognised_as_themselves(
    soname: str, name: str, package: str
) -> None:
    """Each signature against the distribution's own build of its library (a shared library carries the
    library's code just as a static binary does), with dpkg's version as the truth."""
    found = [p for p in Path("/usr/lib").glob(f"*/{soname}") if p.exists()]
    if not found:
        pytest.skip(f"{soname} not installed (apt-get install {package})")
    expected = upstream_of_debian(dpkg_version(package))
    if name == "libpq":
        expected = expected.split(".")[0]  # libpq records only its major version (its message catalogue)
    assert c_libraries(found[0]) == {name: expected}


@pytest.mark.parametrize("program", ["/usr/bin/curl", "/usr/bin/openssl", "/usr/bin/sqlite3"])
def test_programs_that_load_those_libraries_embed_none(program: str) -> None:
    if not Path(program).exists():
        pytest.skip(f"{program} not installed")
    assert c_libraries(Path(program)) == {}


def test_spdx_document_passes_spdx_tools_validation(tmp_path: Path) -> None:
    parser = pytest.importorskip("spdx_tools.spdx.parser.parse_anything", reason="pip install spdx-tools")
    validator = pytest.importorskip("spdx_tools.spdx.validation.document_validator")
    document = tmp_path / "sbom.spdx.json"
    inventories = [inventory(static_openssl_zlib()), inventory(prints_openssl_version())]
    if shutil.which("cargo"):
        inventories.append(inventory(sqlitez(auditable=True)))
    document.write_text(to_spdx(inventories))
    messages = validator.validate_full_spdx_document(parser.parse_file(str(document)))
    assert [m.validation_message for m in messages] == []


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b" " * (17 * 1024 * 1024), "inflates past"),  # a zlib bomb: tiny compressed, huge inflated
        (b"[" * 200_000 + b"]" * 200_000, "not JSON"),  # nesting deep enough to exhaust the parser
        (b'{"packages": {"a": 1}}', "no 'packages' list"),
        (b'{"packages": [{"name": "../../etc", "version": "1.0.0"}]}', "bad crate name"),
        (b'{"packages": [{"name": "a", "version": "1.0.0", "dependencies": ["x"]}]}', "bad dependencies"),
    ],
)
def test_hostile_dep_v0_contents(payload: bytes, problem: str) -> None:
    import zlib

    from elfship.errors import ElfError
    from elfship.sbom.cargo import decode_dep_v0

    with pytest.raises(ElfError, match=problem):
        decode_dep_v0(zlib.compress(payload, 9), "hostile")


def test_check_in_a_root_describes_the_roots_file_not_the_host_file_a_symlink_names(tmp_path: Path) -> None:
    """ROOT/usr/local/bin/tool -> /HOST/PATH: check reads the root's file at that path; the inventory behind
    its embedded-libraries finding must not describe this machine's file of the same name."""
    host = tmp_path / "host"
    host.mkdir()
    shutil.copy2(static_openssl_zlib(), host / "tool")  # on this machine: embeds OpenSSL and zlib
    root = tmp_path / "root"
    inside_copy = root / str(host).lstrip("/") / "tool"
    inside_copy.parent.mkdir(parents=True)
    plain = build_c("hello.c", compiler="zig", zig_target="x86_64-linux-musl", ldflags=["-static"])
    shutil.copy2(plain, inside_copy)  # in the root: a static program that embeds nothing
    (root / "usr/local/bin").mkdir(parents=True)
    (root / "usr/local/bin/tool").symlink_to(host / "tool")
    (root / "etc").mkdir()
    done = elfship("check", str(root / "usr/local/bin/tool"), "--root", str(root), "--json")
    (result,) = json.loads(done.stdout)["results"]
    assert not [f for f in result["findings"] if f["kind"] == "embedded-libraries"], result["findings"]
    outside = elfship("check", str(host / "tool"), "--root", str(root), "--json")
    (placed,) = json.loads(outside.stdout)["results"]
    assert [f for f in placed["findings"] if f["kind"] == "embedded-libraries"], placed["findings"]
