"""The packaged target knowledge base: names, measured facts, EOL, packages and install commands."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest

from elfship.abi import is_private_node, split_version_node, version_key
from elfship.errors import UsageError
from elfship.targets import Target, all_targets, get_target, supported_targets

REPO = Path(__file__).resolve().parent.parent
DISTROS = REPO.parent / "shared" / "data" / "distros"
FILE_FAMILIES = {"rhubi": "rhel", "rockylinux": "rocky", "almalinux": "alma", "oraclelinux": "oracle"}


def _distros_dir() -> Path:
    if not (DISTROS / "EOL.rst").is_file():
        pytest.skip(f"shared distros measurements not found at {DISTROS}")
    return DISTROS


def _canonical(stem: str) -> str:
    if stem.startswith("centos-stream"):
        return "centos-stream:" + stem[len("centos-stream") :]
    family, version = stem.split("-", 1)
    return f"{FILE_FAMILIES.get(family, family)}:{version}"


# -- measured data ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_every_measured_release_matches_its_shared_data_file(arch: str) -> None:
    files = sorted((_distros_dir() / arch).glob("*.json"))
    assert files, f"no measurements for {arch}"
    for path in files:
        if path.stem.startswith("manylinux"):
            continue  # manylinux targets are auditwheel's wheel policies (tests/test_targets_wheels.py)
        measured = json.loads(path.read_text())
        target = get_target(_canonical(path.stem), arch=arch)
        assert target.arch == arch
        assert target.libc == "glibc"
        assert target.libc_version == measured["glibc_version"], path.name
        expected = {ns: frozenset(versions) for ns, versions in measured["symbols"].items()}
        assert dict(target.version_nodes) == expected, path.name


def test_eol_dates_come_from_eol_rst() -> None:
    text = (_distros_dir() / "EOL.rst").read_text()
    assert '"debian 10", "2022-07-31", "2024-06-30", "2029-06-30"' in text
    debian10 = get_target("debian:10")
    assert (debian10.eol, debian10.lts_end, debian10.elts_end) == (
        datetime.date(2022, 7, 31),
        datetime.date(2024, 6, 30),
        datetime.date(2029, 6, 30),
    )
    assert get_target("rhel:9").elts_end == datetime.date(2035, 5, 31)
    assert get_target("debian:unstable").rolling
    assert get_target("debian:unstable").eol is None
    assert get_target("alt:p10").eol is None and not get_target("alt:p10").rolling  # "unknown" in EOL.rst


def test_every_release_names_its_sources() -> None:
    for target in all_targets(None):
        assert target.sources, target.name
        assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9._-]+", target.name), target.name


def test_alpine_releases_carry_musl_versions() -> None:
    expected = {"3.12": "1.1.24", "3.13": "1.2.2", "3.16": "1.2.3", "3.18": "1.2.4", "3.20": "1.2.5"}
    for version, musl in expected.items():
        alpine = get_target(f"alpine:{version}")
        assert (alpine.libc, alpine.libc_version) == ("musl", musl)
        assert alpine.interpreter == "/lib/ld-musl-x86_64.so.1"
        assert any("musl" in source for source in alpine.sources)
    assert get_target("alpine:3.21").base_sonames == frozenset(
        {"ld-musl-x86_64.so.1", "libc.musl-x86_64.so.1", "libz.so.1", "libcrypto.so.3", "libssl.so.3"}
    )
    assert get_target("alpine:3.19").base_sonames is None  # no package list of that image was found


# -- names ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("debian:11", "debian:11"),
        ("bullseye", "debian:11"),
        ("debian:bullseye", "debian:11"),
        ("Debian:12", "debian:12"),
        ("debian-10", "debian:10"),
        ("debian10", "debian:10"),
        ("debian:12.5", "debian:12"),
        ("sid", "debian:unstable"),
        ("focal", "ubuntu:20.04"),
        ("ubuntu:jammy", "ubuntu:22.04"),
        ("ubuntu:22.04.3", "ubuntu:22.04"),
        ("rhel8", "rhel:8"),
        ("rhel:8.9", "rhel:8"),
        ("ubi9", "rhel:9"),
        ("rockylinux:9", "rocky:9"),
        ("almalinux:9", "alma:9"),
        ("oraclelinux:8", "oracle:8"),
        ("centos-stream9", "centos-stream:9"),
        ("amazonlinux:2", "amazonlinux:2"),
        ("al2023", "amazonlinux:2023"),
        ("opensuse-leap:15.6", "opensuse:15.6"),
        ("tumbleweed", "opensuse:tumbleweed"),
        ("manylinux2014", "manylinux:2014"),
        ("manylinux_2_28", "manylinux:2_28"),
        ("alpine3.19", "alpine:3.19"),
        ("alpine:3.19.1", "alpine:3.19"),
        ("alt:p10", "alt:p10"),
    ],
)
def test_names_aliases_and_spellings_resolve(spelling: str, name: str) -> None:
    assert get_target(spelling).name == name


@pytest.mark.parametrize(
    ("wrong", "suggested"),
    [
        ("debian:14", "debian:13"),
        ("bulseye", "debian:11"),
        ("ubunt:22.04", "ubuntu:22.04"),
        ("rhel:5", "rhel:"),
    ],
)
def test_unknown_name_is_a_usage_error_naming_close_matches(wrong: str, suggested: str) -> None:
    with pytest.raises(UsageError) as raised:
        get_target(wrong)
    assert "did you mean" in raised.value.message
    assert suggested in raised.value.message
    assert raised.value.fix and "elfship targets --all" in raised.value.fix


def test_other_architectures() -> None:
    arm = get_target("bookworm", arch="aarch64")
    assert (arm.name, arm.arch, arm.interpreter) == ("debian:12", "aarch64", "/lib/ld-linux-aarch64.so.1")
    with pytest.raises(UsageError, match="known for x86_64 only"):
        get_target("manylinux:2010", arch="aarch64")
    with pytest.raises(UsageError, match="architecture"):
        get_target("debian:12", arch="sparc")


def test_targets_are_hashable_and_comparable() -> None:
    assert get_target("buster") == get_target("debian:10")
    assert len({get_target("buster"), get_target("debian-10"), get_target("bookworm")}) == 2


# -- EOL ------------------------------------------------------------------------------------------------------


def test_supported_targets_on_a_fixed_date() -> None:
    day = datetime.date(2026, 11, 26)
    names = {t.name for t in supported_targets(day)}
    assert {"debian:13", "rhel:8", "rhel:10", "ubuntu:24.04", "alpine:3.22", "amazonlinux:2023"} <= names
    # past EOL (debian:12 is in LTS), rolling, unknown EOL, manylinux build images: not "supported"
    assert not names & {
        "debian:12",
        "debian:11",
        "debian:unstable",
        "alt:p10",
        "alpine:3.24",
        "manylinux:2_28",
    }
    assert all(t.arch == "x86_64" and t.eol is not None and t.eol >= day for t in supported_targets(day))
    assert get_target("debian:12").status(day) == "lts"
    assert get_target("debian:11").status(day) == "elts"
    assert get_target("debian:8").status(day) == "eol"
    assert {"debian:12", "ubuntu:20.04"} <= {t.name for t in supported_targets(datetime.date(2025, 1, 1))}


# -- version nodes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "parts"),
    [
        ("GLIBC_2.29", ("GLIBC", "2.29")),
        ("GLIBC_2.2.5", ("GLIBC", "2.2.5")),
        ("GLIBCXX_3.4.30", ("GLIBCXX", "3.4.30")),
        ("CXXABI_1.3.13", ("CXXABI", "1.3.13")),
        ("CXXABI_TM_1", ("CXXABI", "TM_1")),
        ("GCC_12.0.0", ("GCC", "12.0.0")),
        ("GLIBC_PRIVATE", ("GLIBC", "PRIVATE")),
        ("GLIBC_ABI_DT_RELR", ("GLIBC", "ABI_DT_RELR")),
        ("OPENSSL_3.0.0", ("OPENSSL", "3.0.0")),
        ("libc.so.6", ("libc.so.6", "")),
    ],
)
def test_split_version_node(node: str, parts: tuple[str, str]) -> None:
    assert split_version_node(node) == parts


def test_version_ordering_and_private_nodes() -> None:
    assert version_key("2.2.5") < version_key("2.10") < version_key("2.29")
    assert is_private_node("GLIBC_PRIVATE") and not is_private_node("GLIBC_2.34")


def test_provides_version_answers_the_founding_story() -> None:
    debian10, debian11, debian12 = get_target("debian:10"), get_target("debian:11"), get_target("debian:12")
    assert debian10.provides_version("libm.so.6", "GLIBC_2.29") is False  # exp, pow moved to GLIBC_2.29
    assert debian11.provides_version("libm.so.6", "GLIBC_2.29") is True
    assert debian10.highest_node("GLIBC") == "2.28"
    assert debian12.provides_version("libstdc++.so.6", "GLIBCXX_3.4.30") is True
    assert debian11.provides_version("libstdc++.so.6", "GLIBCXX_3.4.30") is False
    assert debian12.provides_version("libgcc_s.so.1", "GCC_12.0.0") is True
    assert debian12.provides_version("libc.so.6", "GLIBC_PRIVATE") is False  # never portable
    assert debian12.provides_version("libssl.so.3", "OPENSSL_3.0.0") is None  # not measured
    assert debian12.provides_version("libpq.so.5", "GLIBC_2.2.5") is None  # not a glibc library
    assert get_target("alpine:3.19").provides_version("libc.so.6", "GLIBC_2.2.5") is False


# -- base system, packages, install commands ------------------------------------------------------------------


def test_base_sonames_of_debian_minbase() -> None:
    base = get_target("debian:12").base_sonames
    assert base is not None
    assert {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2"} <= base
    assert "libpq.so.5" not in base
    assert get_target("debian:12").ships_soname("libpq.so.5") is False
    assert get_target("debian:9").base_sonames is None  # no image manifest: unknown, not empty
    assert get_target("debian:9").ships_soname("libpq.so.5") is None


def test_package_for_from_the_contents_index() -> None:
    assert get_target("debian:12").package_for("libpq.so.5") == "libpq5"
    assert get_target("debian:11").package_for("libssl.so.1.1") == "libssl1.1"
    assert get_target("debian:13").package_for("libssl.so.3") == "libssl3t64"
    assert get_target("debian:12").package_for("libc.so.6") == "libc6"
    assert get_target("debian:12").package_for("ld-linux-x86-64.so.2") == "libc6"
    assert get_target("debian:12").package_for("libpq.so") is None  # the -dev link, never a run-time soname
    assert get_target("debian:12").package_for("libdoes-not-exist.so.9") is None
    assert get_target("debian:10").package_for("libpq.so.5") is None  # never invented
    assert get_target("ubuntu:22.04").package_for("libpq.so.5") is None


def test_package_hint_from_the_nearest_known_release() -> None:
    assert get_target("debian:10").package_hint("libpq.so.5") == ("libpq5", "debian:11")
    assert get_target("debian:12").package_hint("libpq.so.5") == ("libpq5", "debian:12")
    assert get_target("debian:testing").package_hint("libssl.so.3") == ("libssl3t64", "debian:unstable")
    assert get_target("bookworm", arch="aarch64").package_hint("libpq.so.5") == ("libpq5", "debian:12")
    assert get_target("rhel:8").package_hint("libpq.so.5") is None


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("debian:12", "apt-get install libpq5"),
        ("debian:10", None),
        ("ubuntu:22.04", None),
        ("rhel:8", "dnf install 'libpq.so.5()(64bit)'"),
        ("rocky:9", "dnf install 'libpq.so.5()(64bit)'"),
        ("rhel:7", "yum install 'libpq.so.5()(64bit)'"),
        ("amazonlinux:2", "yum install 'libpq.so.5()(64bit)'"),
        ("fedora:41", "dnf install 'libpq.so.5()(64bit)'"),
        ("opensuse:15.6", "zypper install 'libpq.so.5()(64bit)'"),
        ("mageia:9", "urpmi 'libpq.so.5()(64bit)'"),
        ("photon:5.0", "tdnf install 'libpq.so.5()(64bit)'"),
        ("alpine:3.19", "apk add so:libpq.so.5"),
        ("archlinux:latest", None),
        ("slackware:15.0", None),
    ],
)
def test_install_command_per_family(name: str, command: str | None) -> None:
    assert get_target(name).install_command("libpq.so.5") == command


def test_target_is_frozen() -> None:
    target: Target = get_target("debian:12")
    with pytest.raises(AttributeError):
        target.name = "debian:99"  # type: ignore[misc]


def test_the_releases_file_is_read_by_line_and_agrees_with_the_whole_document() -> None:
    """A command reads the index line and the one release it names (targets/data.py); the lines say exactly
    what the document says, in the catalogue's order."""
    from elfship.targets import catalog, data

    document = data.releases_document()
    rows = data.release_index()
    assert [data.release_record(i) for i in range(len(rows))] == document["releases"]
    assert [{f: r[f] for f in data.INDEX_FIELDS} for r in document["releases"]] == list(rows)
    assert document["releases"] == sorted(document["releases"], key=catalog.sort_key)
    assert data.package_indexes() == document["package_indexes"]


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda text: text.replace('{"format":2,', '{"format":1,', 1), "has format 1, this version reads 2"),
        (
            lambda text: "\n".join(line for line in text.split("\n") if not line.startswith('"index":')),
            "damaged",
        ),
        (lambda text: text.rsplit("\n", 4)[0] + "\n]}\n", "damaged"),  # releases cut short
    ],
)
def test_a_damaged_releases_file_is_one_error_that_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Any, words: str
) -> None:
    from elfship.errors import ElfshipError
    from elfship.targets import catalog, data

    source = Path(data.DATA_DIRECTORY) / data.RELEASES_FILE
    (tmp_path / data.RELEASES_FILE).write_text(damage(source.read_text()))
    monkeypatch.setattr(data, "DATA_DIRECTORY", str(tmp_path))
    caches = (
        data._lines,
        data.release_index,
        data.package_indexes,
        catalog._target,
        catalog._by_name,
        catalog._all,
        catalog._families,
        catalog.known_arches,
    )
    for cache in caches:
        cache.cache_clear()
    try:
        with pytest.raises(ElfshipError, match=words) as raised:
            get_target("debian:12")
        assert "gen_targets.py" in raised.value.one_line()
    finally:
        for cache in caches:
            cache.cache_clear()
