"""manylinux_* and musllinux_* wheel policies as targets: auditwheel's own policy files are the data, and
real wheels from PyPI get auditwheel's verdict under every policy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from elfship.check import check_info
from elfship.elf import read_elf
from elfship.errors import UsageError
from elfship.targets import all_targets, get_target
from tests.support.wheels import wheel

auditwheel = pytest.importorskip("auditwheel", reason="auditwheel not installed (pip install auditwheel)")

POLICY = Path(str(resources.files("auditwheel") / "policy"))
# (requirement, platform): manylinux_2_12, _2_17 and _2_28 wheels; a Rust one (orjson); musllinux ones; one
# aarch64; and numpy, whose modules reach the libraries bundled in numpy.libs/ through $ORIGIN RPATHs.
DOWNLOADS = (
    ("numpy==2.1.3", "manylinux2014_x86_64"),
    ("psutil==7.0.0", "manylinux2014_x86_64"),
    ("markupsafe==3.0.2", "manylinux2014_x86_64"),
    ("markupsafe==3.0.2", "manylinux2014_aarch64"),
    ("markupsafe==3.0.2", "musllinux_1_2_x86_64"),
    ("msgpack==1.1.0", "manylinux2014_x86_64"),
    ("orjson==3.10.12", "manylinux_2_17_x86_64"),
    ("cryptography==44.0.0", "manylinux_2_28_x86_64"),
    ("pyyaml==6.0.2", "musllinux_1_1_x86_64"),
)


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_every_policy_is_auditwheels(arch: str) -> None:
    for family in ("manylinux", "musllinux"):
        for policy in json.loads((POLICY / f"{family}-policy.json").read_text()):
            if policy["name"] == "linux" or arch not in policy["symbol_versions"]:
                continue
            target = get_target(policy["name"], arch=arch)
            assert target.kind == family and target.status() == "policy"
            # The C library's loader, which auditwheel never counts as an outside library.
            loader = {
                "ld-linux-x86-64.so.2",
                "ld-linux-aarch64.so.1",
                f"ld-musl-{arch}.so.1",
                f"libc.musl-{arch}.so.1",
            }
            assert set(target.base_sonames or ()) - loader == set(policy["lib_whitelist"]), policy["name"]
            expected = {ns: frozenset(v) for ns, v in policy["symbol_versions"][arch].items()}
            assert dict(target.version_nodes) == expected, policy["name"]
            for alias in policy["aliases"]:
                assert get_target(alias, arch=arch) == target
    assert {"manylinux:2014", "manylinux:2_28", "manylinux:2_34", "musllinux:1_1", "musllinux:1_2"} <= {
        t.name for t in all_targets(arch)
    }


def test_wheel_policies_are_listed_by_plain_targets() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "elfship", "targets"], capture_output=True, text=True, timeout=60
    )
    names = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    assert {"manylinux:2014", "manylinux:2_28", "manylinux:2_34", "musllinux:1_1", "musllinux:1_2"} <= names
    with pytest.raises(UsageError):
        get_target("manylinux_2_12", arch="aarch64")  # PEP 600 defines no aarch64 manylinux2010


def auditwheel_tag(path: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(path)], capture_output=True, text=True
    )
    text = " ".join(proc.stdout.split())
    match = re.search(r'consistent with the following platform tag: "([a-z]+linux_\d+_\d+)_', text)
    assert match, proc.stdout + proc.stderr
    return match.group(1)


def elf_members(path: Path, out: Path) -> list[Path]:
    """The wheel unpacked; its modules, not the libraries auditwheel bundled into <pkg>.libs/ (those are
    checked as what the modules ship along)."""
    with zipfile.ZipFile(path) as archive:
        archive.extractall(out)
        names = archive.namelist()
    modules = [n for n in names if (n.endswith(".so") or ".so." in n) and ".libs/" not in n]
    return [out / name for name in modules]


def _numbers(tag: str) -> tuple[int, int]:
    major, minor = tag.split("_")[1:3]
    return int(major), int(minor)


@pytest.mark.slow
@pytest.mark.parametrize(("requirement", "platform"), DOWNLOADS)
def test_real_wheels_get_auditwheels_verdict_under_every_policy(
    requirement: str, platform: str, tmp_path: Path
) -> None:
    path = wheel(requirement, platform)
    tag = auditwheel_tag(path)
    family = tag.split("_", 1)[0]
    arch = "aarch64" if platform.endswith("aarch64") else "x86_64"
    infos = [read_elf(p) for p in elf_members(path, tmp_path)]
    assert infos
    checked = 0
    for target in all_targets(arch):
        if target.kind not in ("manylinux", "musllinux"):
            continue
        policy = next(a for a in (*target.aliases, target.name) if re.fullmatch(r"[a-z]+linux_\d+_\d+", a))
        verdicts = {check_info(info, target).verdict for info in infos}
        runs = verdicts == {"runs"}
        if target.kind == "musllinux" and family == "musllinux":
            # auditwheel judges musllinux by the musl of the machine it runs on (it warns so), not by the wheel:
            # only its answer is held, every musllinux policy allows what it allows.
            expected = True
        else:
            expected = target.kind == family and _numbers(policy) >= _numbers(tag)
        assert runs == expected, (target.name, tag, verdicts)
        checked += 1
    assert checked >= 10
