"""Truth: check's predictions against what really happens when the program starts in a real Debian root.

For every (root, binary) cell: the --root prediction equals the chroot run, and --target debian:N (packaged
facts only) agrees with --root (facts read from the real files).
"""

from __future__ import annotations

import os

import pytest

from elfship.check import check_in_root, check_info, run_in_root
from elfship.elf import read_elf
from elfship.targets import get_target, target_from_root
from tests.support.binaries import MATRIX_BINARIES
from tests.support.fixtures import SUITE_NUMBERS, debian_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")


@pytest.mark.parametrize("suite", ["bullseye", "bookworm", "trixie"])
def test_predictions_match_real_starts(suite: str) -> None:
    root = debian_root(suite)
    root_target = target_from_root(root)
    named = get_target(f"debian:{SUITE_NUMBERS[suite]}")
    rows, wrong = [], []
    for name, build in MATRIX_BINARIES.items():
        path = str(build())
        info = read_elf(path)
        predicted = check_in_root(path, info, root, root_target)
        from_data = check_info(info, named)
        real = run_in_root(path, root, timeout=20)
        reason = predicted.errors[0].message if predicted.errors else ""
        rows.append(
            f"{name:<20} root:{predicted.verdict:<6} {named.name}:{from_data.verdict:<6} "
            f"real:{'starts' if real.started else 'fails':<7} {reason[:90]}"
        )
        if predicted.runs != real.started:
            wrong.append(f"{name}: predicted {predicted.verdict}, really {real} ({predicted.findings})")
        if from_data.runs != predicted.runs:
            wrong.append(
                f"{name}: {named.name} says {from_data.verdict} but the root says {predicted.verdict}: "
                f"{[f.message for f in from_data.errors]} vs {[f.message for f in predicted.errors]}"
            )
    print(f"\n{suite} ({named.name}, glibc {root_target.libc_version}):\n" + "\n".join(rows))
    assert not wrong, "\n".join(wrong)


def test_matrix_covers_both_outcomes() -> None:
    """The matrix must hold both verdicts on the oldest root, or it could not catch a one-sided bug."""
    root = debian_root("bullseye")
    verdicts = {
        check_in_root(str(p), read_elf(p), root).verdict for p in (b() for b in MATRIX_BINARIES.values())
    }
    assert verdicts == {"runs", "fails"}
