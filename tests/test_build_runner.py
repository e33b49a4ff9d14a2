"""cargo runs held back and released or cancelled (builder/runner.py), with a real process standing in for cargo
that prints as cargo does."""

from __future__ import annotations

import io
import time
from pathlib import Path

from elfship.builder.plan import BuildPlan
from elfship.builder.runner import OWN_LOCK_WAIT, CargoProcess
from elfship.builder.strategy import Strategy

# Two status lines on stderr around cargo's lock message (coloured, as with CARGO_TERM_COLOR=always), and one
# JSON message on stdout naming an executable.
SCRIPT = (
    "printf '   Compiling a\\n' >&2; "
    f"printf '\\033[1m\\033[36m    Blocking\\033[0m {OWN_LOCK_WAIT[len('Blocking ') :]}\\n' >&2; "
    "printf '    Finished\\n' >&2; "
    """echo '{"reason":"compiler-artifact","target":{"kind":["bin"]},"executable":"/x/hello"}'"""
)


def plan(script: str = SCRIPT) -> BuildPlan:
    return BuildPlan(
        strategy=Strategy.GLIBC_PINNED,
        why="test",
        triple="x86_64-unknown-linux-gnu",
        glibc_pin="2.31",
        profile="release",
        target_dir=Path("/nonexistent"),
        argv=("sh", "-c", script),
        env=(),
        notes=(),
    )


def test_a_held_run_shows_nothing_until_released_and_then_all_but_the_lock_wait() -> None:
    echo = io.StringIO()
    process = CargoProcess(plan(), {"PATH": "/usr/bin:/bin"}, echo=echo, hold=True)
    time.sleep(0.5)  # long enough for the script to have printed everything
    assert echo.getvalue() == ""
    process.release()
    run = process.wait()
    assert echo.getvalue() == "   Compiling a\n    Finished\n"
    assert run.ok and run.executables == (Path("/x/hello"),)
    assert "Blocking" in run.output  # kept for diagnosis, only not shown


def test_a_run_not_held_shows_everything_as_it_comes() -> None:
    echo = io.StringIO()
    run = CargoProcess(plan(), {"PATH": "/usr/bin:/bin"}, echo=echo).wait()
    assert "Blocking" in echo.getvalue() and "Finished" in echo.getvalue()
    assert run.executables == (Path("/x/hello"),)


def test_a_cancelled_run_is_stopped_with_what_it_started_and_never_shown(tmp_path: Path) -> None:
    echo = io.StringIO()
    child = tmp_path / "child.pid"
    script = f"printf '   Compiling a\\n' >&2; sleep 30 & echo $! > {child}; wait"
    process = CargoProcess(plan(script), {"PATH": "/usr/bin:/bin"}, echo=echo, hold=True)
    deadline = time.monotonic() + 5
    while not (child.exists() and child.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    process.cancel()
    assert time.monotonic() - started < 5  # at once, not after a grace period
    assert echo.getvalue() == ""
    # What cargo started goes too (its own process group): SIGKILL is sent at once, but a busy machine may
    # take a moment to finish the child off, so give it that moment, not the 30 s it would sleep.
    gone_by = time.monotonic() + 5
    while running(int(child.read_text())) and time.monotonic() < gone_by:
        time.sleep(0.02)
    assert not running(int(child.read_text()))


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by whoever adopted it, in its own time)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
