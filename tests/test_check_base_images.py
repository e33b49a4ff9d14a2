"""Base systems inferred from official images' package lists (debian:10, ubuntu:22.04): data and verdicts."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import pytest

from elfship.targets import get_target
from tests.support.fixtures import build_c
from tests.support.target_data import assert_old_glibc_program_runs_cleanly, committed, elfship

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import targets_debian  # noqa: E402  (scripts/ is not a package)
import targets_images  # noqa: E402

CONTENTS = Path.home() / ".cache" / "elfship-build" / "debian"


@pytest.mark.parametrize("image", targets_images.IMAGES, ids=lambda i: i.release)
def test_manifests_are_sourced_facts(image: targets_images.ImageSource) -> None:
    manifest = targets_images.read_manifest(targets_images.DATA / image.file)
    assert re.fullmatch(
        r"github\.com/docker-library/repo-info repos/\w+/local/[\w.-]+\.md \(commit [0-9a-f]{40}\)",
        manifest.source,
    )
    assert re.match(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z ", manifest.created)
    assert {"libc6", "zlib1g"} <= set(manifest.packages) and "libpq5" not in manifest.packages
    assert all(version for version in manifest.packages.values())


def test_policy_names() -> None:
    assert targets_images.policy_soname("libffi6") == "libffi.so.6"
    assert targets_images.policy_soname("libtasn1-6") == "libtasn1.so.6"
    assert targets_images.policy_soname("libbz2-1.0") is None  # not a plain policy name: left unmapped
    assert targets_images.policy_soname("bash") is None
    assert targets_images.policy_soname("libdb5.3t64") is None  # t64 names are looked up, never guessed


def test_generator_is_deterministic_and_the_committed_data_is_its_output() -> None:
    needed = sorted({suite for image in targets_images.IMAGES for suite in image.suites})
    try:  # downloaded once from Debian's mirror into the cache the generator uses, when not there yet
        paths = {s: targets_debian.fetch_contents(s, CONTENTS.parent, offline=False) for s in needed}
    except targets_debian.MirrorUnreachable as exc:
        pytest.skip(f"Debian's Contents indexes are not cached and the mirror cannot be reached: {exc}")
    contents = {s: targets_images.package_sonames(path) for s, path in paths.items()}
    keys = ("base_sonames", "base_open", "base_basis", "sources")
    runs = []
    for _ in range(2):
        records = [copy.deepcopy(committed(image.release)) for image in targets_images.IMAGES]
        for record in records:
            record["sources"] = [s for s in record["sources"] if not s.startswith("base_sonames:")]
        assert targets_images.add_image_bases(records, contents) == []
        runs.append([{k: r[k] for k in keys} for r in records])
    assert runs[0] == runs[1]
    assert runs[0] == [{k: committed(i.release)[k] for k in keys} for i in targets_images.IMAGES]


def test_inferred_base_settles_presence_and_leaves_the_rest_unknown() -> None:
    debian10, jammy = get_target("debian:10"), get_target("ubuntu:22.04")
    for target in (debian10, jammy):
        assert target.ships_soname("libc.so.6") is True and target.ships_soname("libz.so.1") is True
        assert target.ships_soname("libpq.so.5") is False
        assert target.base_basis is not None and "inferred from its image manifest" in target.base_basis
    assert debian10.ships_soname("libgcc_s.so.1") is True  # libgcc1, by its file list, not the policy rule
    assert debian10.ships_soname("libdb-5.3.so") is True  # an unversioned soname of a non -dev package
    noble = get_target("ubuntu:24.04")  # t64 packages: libssl3t64 ships libssl.so.3
    assert noble.ships_soname("libssl.so.3") is True and noble.ships_soname("libapt-pkg.so.6.0") is True
    assert debian10.ships_soname("libffi.so.6") is True and debian10.ships_soname("libffi.so.8") is False
    assert jammy.ships_soname("libssl.so.3") is True and debian10.ships_soname("libssl.so.1.1") is False
    # Buster's libc6 held libcrypt.so.1; bullseye's Contents cannot say so: unknown, never "absent".
    assert debian10.ships_soname("libcrypt.so.1") is None and jammy.ships_soname("libcrypt.so.1") is True
    assert not any(re.match(r"^\w+-2\.\d+\.so$", name) for name in debian10.base_sonames or ())
    # Releases with no manifest stay unknown; measured ones keep no basis note.
    assert get_target("debian:9").ships_soname("libpq.so.5") is None
    assert get_target("ubuntu:24.10").ships_soname("libpq.so.5") is None
    assert get_target("debian:12").base_basis is None
    assert get_target("debian:10", arch="aarch64").base_sonames is None  # the manifests are amd64 images


@pytest.fixture(scope="module")
def story_binary() -> Path:
    return build_c("uses_libpq.c", cflags=["-I/usr/include/postgresql"], ldflags=["-lpq", "-lm"])


@pytest.mark.parametrize(
    ("target", "manifest"),
    [
        ("debian:10", "repos/debian/local/10.13.md"),
        ("ubuntu:22.04", "repos/ubuntu/local/22.04.md"),
        ("ubuntu:24.04", "repos/ubuntu/local/24.04.md"),
    ],
)
def test_story_libpq_is_an_error_naming_the_source(story_binary: Path, target: str, manifest: str) -> None:
    proc = elfship("check", str(story_binary), "-t", target, "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["verdict"] == "fails"
    (libpq,) = [f for f in result["findings"] if f.get("library") == "libpq.so.5"]
    assert (libpq["severity"], libpq["kind"]) == ("error", "library-not-in-base")
    assert f"not in the base image of {target}, inferred from its image manifest" in libpq["message"]
    assert manifest in libpq["message"]
    # libm.so.6 and libc.so.6 come from the inferred base: nothing about them is unknown.
    assert not [f for f in result["findings"] if f["severity"] == "unknown"]


def test_sonames_in_the_image_pass(story_binary: Path) -> None:
    # Built on this host (glibc >= 2.34): ubuntu:22.04's glibc 2.35 takes it once libpq is stated present.
    assumed = elfship("check", str(story_binary), "-t", "ubuntu:22.04", "--assume-present", "libpq.so.5")
    assert assumed.returncode == 0 and "RUNS" in assumed.stdout, assumed.stdout
    assert_old_glibc_program_runs_cleanly("debian:10")


def test_targets_says_how_the_base_is_known() -> None:
    shown = elfship("targets", "ubuntu:22.04", "debian:12").stdout
    assert "sonames, inferred from its image manifest (github.com/docker-library/repo-info" in shown
    assert "repos/ubuntu/local/22.04.md" in shown
    assert shown.count("inferred from its image manifest (") == 1  # debian:12's base is measured
