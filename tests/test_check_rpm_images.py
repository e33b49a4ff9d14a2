"""Base systems of the RPM family inferred from official images' package lists and a soname table."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import pytest

from elfship.targets import get_target
from tests.support.binaries import versioned_library
from tests.support.fixtures import build_c
from tests.support.target_data import assert_old_glibc_program_runs_cleanly, committed, elfship

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import targets_images  # noqa: E402  (scripts/ is not a package)
import targets_rpm  # noqa: E402

MANIFESTS = {
    "rocky:8": "repos/rockylinux/local/8.9.20231119.md",
    "rocky:9": "repos/rockylinux/local/9.3.20231119.md",
    "alma:9": "repos/almalinux/local/9.8-20260902.md",
    "amazonlinux:2023": "repos/amazonlinux/local/2023.12.20260831.0.md",
}


def test_every_image_has_a_test_here() -> None:
    assert {image.release for image in targets_rpm.RPM_IMAGES} == set(MANIFESTS)


@pytest.mark.parametrize("image", targets_rpm.RPM_IMAGES, ids=lambda i: i.release)
def test_manifests_are_sourced_facts(image: targets_rpm.RpmImage) -> None:
    manifest = targets_images.read_manifest(targets_images.DATA / image.file)
    assert manifest.source == (
        f"github.com/docker-library/repo-info {MANIFESTS[image.release]} (commit {manifest.source[-41:-1]})"
    )
    assert re.fullmatch(r"[0-9a-f]{40}", manifest.source[-41:-1])
    assert re.match(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z ", manifest.created)
    assert {"glibc", "zlib", "openssl-libs", "libstdc++"} <= set(manifest.packages)
    assert "libpq" not in manifest.packages and "postgresql-libs" not in manifest.packages
    # name=version-release, never the NEVRA's architecture
    assert all(re.fullmatch(r"[\w.~+^-]+-[\w.~+^]+", v) for v in manifest.packages.values())
    assert not any(v.endswith((".x86_64", ".noarch")) for v in manifest.packages.values())


def test_table_rows_and_version_rule(tmp_path: Path) -> None:
    table = targets_rpm.read_table()
    assert table["libpq.so.5"][0] == targets_rpm.Shipper("libpq", ())
    assert targets_rpm.Shipper("openssl-libs", ("3",)) in table["libssl.so.3"]
    packages = {"openssl-libs": "1.1.1k-9.el8", "libffi": "3.4.2-8.el9"}
    assert targets_rpm.ships(targets_rpm.Shipper("openssl-libs", ("1", "1")), packages)
    assert not targets_rpm.ships(targets_rpm.Shipper("openssl-libs", ("3",)), packages)
    assert targets_rpm.ships(targets_rpm.Shipper("libffi", ("3", "4")), packages)
    assert not targets_rpm.ships(targets_rpm.Shipper("libffi", ("3", "1")), packages)
    assert not targets_rpm.ships(targets_rpm.Shipper("libpq", ()), packages)
    # a package in a version no row maps leaves its versioned sonames unknown, not absent
    old = {"openssl-libs": "1.0.2k-24.amzn2.0.4", "libffi": "3.4.2-8.el9"}
    assert targets_rpm.unmapped_versions(table, old) == {
        "libssl.so.3",
        "libcrypto.so.3",
        "libssl.so.1.1",
        "libcrypto.so.1.1",
    }
    assert targets_rpm.unmapped_versions(table, packages) == set()
    bad = tmp_path / "table.txt"
    bad.write_text("libz.so.1 zlib\nlibz.so.1 zlib-ng-compat\n", encoding="utf-8")
    with pytest.raises(ValueError, match="one row per soname"):
        targets_rpm.read_table(bad)


def test_generator_is_deterministic_and_the_committed_data_is_its_output() -> None:
    keys = ("base_sonames", "base_open", "base_scope", "base_basis", "sources")
    runs = []
    for _ in range(2):
        records = [copy.deepcopy(committed(image.release)) for image in targets_rpm.RPM_IMAGES]
        for record in records:
            record["sources"] = [s for s in record["sources"] if not s.startswith("base_sonames:")]
            for key in keys[:4]:
                record.pop(key, None)
        assert targets_rpm.add_rpm_bases(records) == []
        runs.append([{k: r[k] for k in keys} for r in records])
    assert runs[0] == runs[1]
    assert runs[0] == [{k: committed(i.release)[k] for k in keys} for i in targets_rpm.RPM_IMAGES]


# OpenSSL and libffi per release, from the package versions each manifest lists (1.1.1k / 3.1 on RHEL 8,
# 3.x / 3.4 on RHEL 9 and AL2023): the versioned rows must pick the right soname, and only that one.
NEW = {"libssl.so.3", "libcrypto.so.3", "libffi.so.8", "libreadline.so.8"}
OLD = {"libssl.so.1.1", "libcrypto.so.1.1", "libffi.so.6"}
VERSIONED = {
    "rocky:8": (OLD, NEW),
    "rocky:9": (NEW, OLD),
    "alma:9": (NEW, OLD),
    "amazonlinux:2023": (NEW, OLD),
}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_inferred_base_settles_the_table_and_nothing_else(name: str) -> None:
    target = get_target(name)
    for soname in ("libc.so.6", "libm.so.6", "libz.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libzstd.so.1"):
        assert target.ships_soname(soname) is True, soname
    present, absent = VERSIONED[name]
    assert {s for s in present | absent if target.ships_soname(s)} == present
    assert target.ships_soname("libpq.so.5") is False and target.ships_soname("libatomic.so.1") is False
    assert target.base_open == frozenset()  # every versioned package of these images has a mapped version
    # no row in the table: unknown, never absent
    assert target.ships_soname("libcrypt.so.1") is None
    assert target.ships_soname("libmysqlclient.so.21") is None
    assert target.base_basis is not None and MANIFESTS[name] in target.base_basis
    # the manifests are of the amd64 images; other releases of the family stay unknown
    assert get_target(name, arch="aarch64").ships_soname("libz.so.1") is None
    assert get_target("alma:8").ships_soname("libpq.so.5") is None


@pytest.fixture(scope="module")
def story_binary() -> Path:
    return build_c("uses_libpq.c", cflags=["-I/usr/include/postgresql"], ldflags=["-lpq", "-lm"])


@pytest.mark.parametrize("target", sorted(MANIFESTS))
def test_story_libpq_is_an_error_naming_the_manifest(story_binary: Path, target: str) -> None:
    proc = elfship("check", str(story_binary), "-t", target, "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["verdict"] == "fails"
    (libpq,) = [f for f in result["findings"] if f.get("library") == "libpq.so.5"]
    assert (libpq["severity"], libpq["kind"]) == ("error", "library-not-in-base")
    assert f"not in the base image of {target}, inferred from its image manifest" in libpq["message"]
    assert MANIFESTS[target] in libpq["message"]


def test_the_rest_of_the_base_passes(story_binary: Path) -> None:
    # libpq stated present: libc.so.6 and libm.so.6 come from the inferred base, nothing is unknown
    proc = elfship("check", str(story_binary), "-t", "rocky:9", "--assume-present", "libpq.so.5", "--json")
    (result,) = json.loads(proc.stdout)["results"]
    assert proc.returncode == 0 and result["verdict"] == "runs", proc.stdout + proc.stderr
    assert_old_glibc_program_runs_cleanly("amazonlinux:2023")


def test_a_soname_with_no_row_is_unknown() -> None:
    # libversioned.so.1 (built here) has no row in the table: unknown (exit 3), never "not in the base image"
    library = versioned_library()
    program = build_c(
        "uses_shared.c", ldflags=[str(library), f"-Wl,-rpath,{library.parent}"], out_name="needs-versioned"
    )
    proc = elfship("check", str(program), "-t", "rocky:9", "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["verdict"] == "unknown"
    (row,) = [f for f in result["findings"] if f.get("library") == "libversioned.so.1"]
    assert row["severity"] == "unknown"
    assert not [f for f in result["findings"] if f["severity"] == "error"]
