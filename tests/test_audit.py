"""`elfship audit` against advisory data in the formats people have: a RustSec advisory-db checkout and OSV
JSON (a directory and an all.zip), written here from real public advisories (ids, aliases and ranges are
facts). The binary is a real build: sqlitez bundles libsqlite3-sys 0.25.0, which RUSTSEC-2022-0090 covers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tests.support.sbom_fixtures import go_program, prints_openssl_version, sqlitez

pytestmark = pytest.mark.slow
SRC = Path(__file__).resolve().parent.parent / "src"

# Real RustSec advisories (github.com/rustsec/advisory-db, crates/<crate>/<id>.md), front matter as published.
RUSTSEC = {
    "libsqlite3-sys/RUSTSEC-2022-0090.md": """```toml
[advisory]
id = "RUSTSEC-2022-0090"
package = "libsqlite3-sys"
date = "2022-08-03"
url = "https://nvd.nist.gov/vuln/detail/CVE-2022-35737"
categories = ["denial-of-service", "code-execution"]
aliases = ["CVE-2022-35737"]
cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"

[versions]
patched = [">= 0.25.1"]
```

# `libsqlite3-sys` via C SQLite CVE-2022-35737
""",
    "openssl-src/RUSTSEC-2023-0006.md": """```toml
[advisory]
id = "RUSTSEC-2023-0006"
package = "openssl-src"
aliases = ["CVE-2023-0286"]
categories = ["denial-of-service", "memory-exposure"]
date = "2023-02-07"
url = "https://www.openssl.org/news/secadv/20230207.txt"
[versions]
patched = [">= 111.25, < 300.0", ">= 300.0.12"]
```

# X.400 address type confusion in X.509 `GeneralName`
""",
    "openssl-src/RUSTSEC-2022-0014.md": """```toml
[advisory]
id = "RUSTSEC-2022-0014"
package = "openssl-src"
aliases = ["CVE-2022-0778"]
categories = ["denial-of-service"]
date = "2022-03-15"
url = "https://www.openssl.org/news/secadv/20220315.txt"

[versions]
patched = [">= 111.18, < 300.0", ">= 300.0.5"]
```

# Infinite loop in `BN_mod_sqrt()` reachable when parsing certificates
""",
}

# rust/std/CVE-2022-21658.md: the standard library every Rust binary links in.
RUSTSEC_STD = """```toml
[advisory]
id = "CVE-2022-21658"
package = "std"
categories = ["file-disclosure"]
date = "2022-01-16"
url = "https://blog.rust-lang.org/2022/01/20/cve-2022-21658.html"
cvss = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:C/C:N/I:L/A:H"

[affected]
[affected.functions]
"std::fs::remove_dir_all" = ["< 1.58.1"]

[versions]
patched = [">= 1.58.1"]
```

# Time-of-check time-of-use race condition can allow attacker to delete files they do not have access to delete
"""

# The same libsqlite3-sys advisory as osv.dev serves it (crates.io ecosystem, SEMVER range).
OSV_SQLITE = {
    "schema_version": "1.4.0",
    "id": "RUSTSEC-2022-0090",
    "modified": "2022-11-29T12:00:00Z",
    "published": "2022-11-29T12:00:00Z",
    "aliases": ["CVE-2022-35737"],
    "summary": "`libsqlite3-sys` via C SQLite CVE-2022-35737",
    "affected": [
        {
            "package": {
                "ecosystem": "crates.io",
                "name": "libsqlite3-sys",
                "purl": "pkg:cargo/libsqlite3-sys",
            },
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.0.0-0"}, {"fixed": "0.25.1"}]}],
        }
    ],
    "references": [{"type": "ADVISORY", "url": "https://rustsec.org/advisories/RUSTSEC-2022-0090.html"}],
}
# CVE-2023-0286 in Debian 12: fixed there by openssl 3.0.8-1, long before the openssl this machine has.
OSV_DEBIAN = {
    "id": "DEBIAN-CVE-2023-0286",
    "modified": "2024-01-01T00:00:00Z",
    "aliases": ["CVE-2023-0286"],
    "summary": "X.400 address type confusion in X.509 GeneralName",
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "openssl"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.8-1"}]}],
        }
    ],
}

# golang/vulndb data/osv/GO-2023-1840.json (CVE-2023-29403), the affected part as published.
OSV_GO = {
    "schema_version": "1.3.1",
    "id": "GO-2023-1840",
    "modified": "0001-01-01T00:00:00Z",
    "aliases": ["CVE-2023-29403"],
    "summary": "Unsafe behavior in setuid/setgid binaries in runtime",
    "affected": [
        {
            "package": {"name": "stdlib", "ecosystem": "Go"},
            "ranges": [
                {
                    "type": "SEMVER",
                    "events": [
                        {"introduced": "0"},
                        {"fixed": "1.19.10"},
                        {"introduced": "1.20.0-0"},
                        {"fixed": "1.20.5"},
                    ],
                }
            ],
        }
    ],
}


def elfship(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-m", "elfship", *args], capture_output=True, text=True, env=env)


def rustsec_db(tmp_path: Path, names: tuple[str, ...] = tuple(RUSTSEC)) -> Path:
    root = tmp_path / "advisory-db"
    (root / "crates").mkdir(parents=True, exist_ok=True)
    for name in names:
        path = root / "crates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(RUSTSEC[name])
    return root


def audit_json(program: Path, db: Path) -> tuple[int, dict[str, object]]:
    done = elfship("audit", "--json", str(program), "--db", str(db))
    assert "Traceback" not in done.stderr
    document = json.loads(done.stdout)
    schema = json.loads(resources.files("elfship").joinpath("schemas/audit.schema.json").read_text())
    jsonschema.validate(document, schema)
    return done.returncode, document


def test_rustsec_checkout_finds_the_bundled_sqlite_advisory(tmp_path: Path) -> None:
    code, document = audit_json(sqlitez(auditable=True), rustsec_db(tmp_path))
    assert code == 1
    (file,) = document["files"]  # type: ignore[attr-defined]
    (finding,) = file["findings"]
    assert (finding["id"], finding["aliases"], finding["installed"]) == (
        "RUSTSEC-2022-0090",
        ["CVE-2022-35737"],
        "0.25.0",
    )
    assert finding["fixed"] == [">= 0.25.1"] and "cargo update -p libsqlite3-sys" in finding["fix"]
    uncovered = {c["name"]: c["why"] for c in file["not_covered"]}
    assert "zlib" in uncovered and "glibc" in uncovered  # listed, never called safe
    text = elfship("audit", str(sqlitez(auditable=True)), "--db", str(rustsec_db(tmp_path)))
    assert text.returncode == 1 and "not covered by this database" in text.stdout


def test_osv_directory_and_zip_give_the_same_answer(tmp_path: Path) -> None:
    directory = tmp_path / "osv"
    directory.mkdir()
    (directory / "RUSTSEC-2022-0090.json").write_text(json.dumps(OSV_SQLITE))
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("RUSTSEC-2022-0090.json", json.dumps(OSV_SQLITE))
    answers = []
    for db in (directory, archive):
        code, document = audit_json(sqlitez(auditable=True), db)
        ids = [f["id"] for f in document["files"][0]["findings"]]  # type: ignore[index]
        answers.append((code, ids))
    assert answers == [(1, ["RUSTSEC-2022-0090"])] * 2


def test_no_advisory_applies_exit_0(tmp_path: Path) -> None:
    db = rustsec_db(tmp_path, ("openssl-src/RUSTSEC-2023-0006.md", "openssl-src/RUSTSEC-2022-0014.md"))
    code, document = audit_json(sqlitez(auditable=True), db)
    assert code == 0 and document["vulnerable"] is False
    assert document["files"][0]["checked"] > 0  # type: ignore[index]


def test_without_dep_v0_crates_are_heuristic_and_c_libraries_not_covered(tmp_path: Path) -> None:
    code, document = audit_json(sqlitez(auditable=False), rustsec_db(tmp_path))
    file = document["files"][0]  # type: ignore[index]
    assert code == 0 and file["findings"] == []
    assert "sqlite" in {c["name"] for c in file["not_covered"]}


def test_debian_osv_against_a_dynamic_program(tmp_path: Path) -> None:
    directory = tmp_path / "osv"
    directory.mkdir()
    (directory / "DEBIAN-CVE-2023-0286.json").write_text(json.dumps(OSV_DEBIAN))
    code, document = audit_json(prints_openssl_version(), directory)
    file = document["files"][0]  # type: ignore[index]
    if not any(c["name"] == "libssl.so.3" for c in file["not_covered"]) and file["checked"] == 0:
        pytest.skip("this machine is not Debian 12 (no Debian:12 components)")
    assert code == 0 and file["findings"] == []  # bookworm's openssl is past 3.0.8-1
    # The same record with the fix moved past the installed version applies, and names the package.
    newer = json.loads(json.dumps(OSV_DEBIAN))
    newer["affected"][0]["ranges"][0]["events"][1]["fixed"] = "99.0-1"
    (directory / "DEBIAN-CVE-2023-0286.json").write_text(json.dumps(newer))
    code, document = audit_json(prints_openssl_version(), directory)
    found = {f["component"] for f in document["files"][0]["findings"]}  # type: ignore[index]
    assert code == 1 and "libssl.so.3" in found


def test_bad_database_is_exit_2(tmp_path: Path) -> None:
    done = elfship("audit", str(sqlitez(auditable=False)), "--db", str(tmp_path / "nothing"))
    assert done.returncode == 2 and done.stderr.startswith("elfship: error: ") and "fix:" in done.stderr


def test_go_stdlib_against_the_go_vulnerability_database(tmp_path: Path) -> None:
    program = go_program()
    version = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
    numbers = tuple(int(p) for p in version.removeprefix("go").split(".")[:3])
    directory = tmp_path / "osv"
    directory.mkdir()
    (directory / "GO-2023-1840.json").write_text(json.dumps(OSV_GO))
    code, document = audit_json(program, directory)
    findings = document["files"][0]["findings"]  # type: ignore[index]
    affected = numbers < (1, 19, 10) or (1, 20, 0) <= numbers < (1, 20, 5)
    assert code == (1 if affected else 0)
    assert [f["id"] for f in findings] == (["GO-2023-1840"] if affected else [])
    if affected:
        assert findings[0]["fixed"] == ["1.19.10", "1.20.5"] and "rebuild with Go" in findings[0]["fix"]


def test_unreadable_advisories_are_skipped_and_named(tmp_path: Path) -> None:
    db = rustsec_db(tmp_path, ("libsqlite3-sys/RUSTSEC-2022-0090.md",))
    (db / "crates" / "libsqlite3-sys" / "RUSTSEC-9999-0001.md").write_text("```toml\n[advisory\nid = \n```\n")
    (db / "crates" / "libsqlite3-sys" / "RUSTSEC-9999-0002.md").write_bytes(b"\xff" * 5_000_000)
    code, document = audit_json(sqlitez(auditable=True), db)
    skipped = document["database"]["skipped"]  # type: ignore[index]
    assert code == 1 and len(skipped) == 2 and all("RUSTSEC-9999" in s for s in skipped)
    osv = tmp_path / "osv"
    osv.mkdir()
    (osv / "broken.json").write_text('{"id": "X", "affected": [{"package": 3}]}')
    (osv / "RUSTSEC-2022-0090.json").write_text(json.dumps(OSV_SQLITE))
    code, document = audit_json(sqlitez(auditable=True), osv)
    assert code == 1 and len(document["database"]["skipped"]) == 1  # type: ignore[index]


def test_rust_std_advisories_match_the_compiler_that_built_it(tmp_path: Path) -> None:
    db = rustsec_db(tmp_path, ())
    (db / "rust" / "std").mkdir(parents=True)
    (db / "rust" / "std" / "CVE-2022-21658.md").write_text(RUSTSEC_STD)
    code, document = audit_json(sqlitez(auditable=False), db)
    file = document["files"][0]  # type: ignore[index]
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.split()[1]
    fixed = tuple(int(p) for p in rustc.split("-")[0].split(".")) >= (1, 58, 1)
    assert code == (0 if fixed else 1) and file["checked"] >= 1
    assert "rustc" not in {c["name"] for c in file["not_covered"]}  # covered: std advisories speak about it
