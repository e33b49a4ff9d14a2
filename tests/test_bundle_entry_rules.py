"""One rule for what a payload may contain, in three places: archive.py (refuses to write it), unpack.c and
the sh stub (refuse to unpack it). The Python and sh versions are compared here on many paths; the C one is
exercised by test_bundle_tampered.py."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elfship.bundle.archive import TreeItem, link_stays_inside, plain_relative, refuse_unsafe
from elfship.bundle.sh_stub import _HELPERS
from elfship.errors import ElfshipError

LOADER = "/lib64/ld-linux-x86-64.so.2"
_PART = st.sampled_from(["a", "b", "..", ".", "", "lib", "x y"])
_PATH = st.lists(_PART, min_size=1, max_size=5).map("/".join) | st.sampled_from(["/etc", LOADER, "/"])


def _sh_verdicts(pairs: list[tuple[str, str]]) -> list[bool]:
    """The stub's own `plain` and `inside` shell functions, run by /bin/sh on each (link, target)."""
    script = "self=/x; system_loader=" + LOADER + "\n" + _HELPERS
    for link, target in pairs:
        quoted = [value.replace("'", "'\\''") for value in (link, target)]
        script += f"if inside '{quoted[0]}' '{quoted[1]}'; then echo 1; else echo 0; fi\n"
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True)
    return [line == "1" for line in done.stdout.split()]


@settings(max_examples=30, deadline=None)
@given(pairs=st.lists(st.tuples(_PATH, _PATH), min_size=1, max_size=40))
def test_python_and_sh_agree_on_symlink_targets(pairs: list[tuple[str, str]]) -> None:
    expected = [plain_relative(link) and link_stays_inside(link, target, LOADER) for link, target in pairs]
    assert _sh_verdicts(pairs) == expected, pairs


@pytest.mark.parametrize(
    ("link", "target", "inside"),
    [
        ("libexec/app", "../lib/ld-linux-x86-64.so.2", True),
        ("lib/libz.so.1", "libz.so.1.2.13", True),
        ("a/b/c", "../..", True),
        ("app", "../lib/x", False),  # climbs above the bundle
        ("lib/x", "a/../../../y", False),  # '..' after a plain component: refused, whatever it resolves to
        ("libexec/app", "/etc/passwd", False),
        ("libexec/app", LOADER, True),  # the target's own loader, for a bundle made without glibc
        ("lib/x", "", False),
    ],
)
def test_symlink_rule(link: str, target: str, inside: bool) -> None:
    assert link_stays_inside(link, target, LOADER) is inside


def test_bundle_time_refusal_is_one_line() -> None:
    with pytest.raises(ElfshipError) as raised:
        refuse_unsafe([TreeItem("lib", "dir", 0o755), TreeItem("lib/evil", "link", 0o777, "../../etc")])
    assert "points outside the bundle" in raised.value.one_line()
    with pytest.raises(ElfshipError):
        refuse_unsafe([TreeItem("a -> b", "file", 0o644)])
    refuse_unsafe([TreeItem("libexec", "dir", 0o755), TreeItem("libexec/app", "link", 0o777, "../lib/ld.so")])


def test_plain_relative() -> None:
    assert plain_relative("lib/libc.so.6")
    for bad in ("", "/lib", "lib/../x", "./lib", "lib//x", "lib/", ".."):
        assert not plain_relative(bad), bad
