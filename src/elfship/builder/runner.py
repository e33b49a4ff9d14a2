"""Run cargo: its progress shows live on stderr while elfship keeps a copy for diagnosis.

cargo writes JSON messages on stdout (--message-format=json-render-diagnostics, which still renders compiler
errors for humans on stderr); elfship reads the executables cargo produced from them instead of guessing paths.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from elfship.builder.diagnose import strip_ansi
from elfship.builder.plan import BuildPlan
from elfship.errors import ToolMissingError
from elfship.record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import IO, Any

# How long cargo gets to stop after Ctrl-C before it is killed.
INTERRUPT_GRACE_SECONDS = 10.0
# A run started on a guess may wait for elfship's own `cargo metadata`, which holds cargo's package cache lock
# while it resolves; cargo says so with this line, about elfship and not the user's build, so it is not shown.
OWN_LOCK_WAIT = "Blocking waiting for file lock on package cache"


@record
class CargoRun:
    returncode: int
    output: str  # cargo's stderr as the user saw it, colour codes removed
    executables: tuple[Path, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def presentation_env(user_env: Mapping[str, str], stream: IO[str]) -> dict[str, str]:
    """Keep cargo's colours and progress bar when the user is watching, although its stderr is now a pipe."""
    if not _is_tty(stream):
        return {}
    wanted = {
        "CARGO_TERM_COLOR": "always",
        "CARGO_TERM_PROGRESS_WHEN": "always",
        "CARGO_TERM_PROGRESS_WIDTH": str(shutil.get_terminal_size().columns),
    }
    return {k: v for k, v in wanted.items() if k not in user_env}


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def run_cargo(
    plan: BuildPlan,
    user_env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    echo: IO[str] | None = None,
) -> CargoRun:
    """Run the plan's command with the user's environment plus the plan's; stream stderr to `echo`."""
    return CargoProcess(plan, user_env, cwd=cwd, echo=echo).wait()


class CargoProcess:
    """cargo, started. Its stderr is shown live on `echo`, or with hold=True kept back until release() (a run
    started on a guess: cancel() stops it, and then nothing it printed was ever shown)."""

    def __init__(
        self,
        plan: BuildPlan,
        user_env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        echo: IO[str] | None = None,
        hold: bool = False,
    ) -> None:
        self.plan = plan
        self.echo = sys.stderr if echo is None else echo
        self.env = {**user_env, **plan.env_dict, **presentation_env(user_env, self.echo)}
        self._started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                plan.argv,
                cwd=cwd,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                # Its own process group: on Ctrl-C or SIGTERM elfship stops cargo *and* the build scripts and
                # compilers it started (a signal to cargo alone would leave them running).
                start_new_session=True,
            )
        except FileNotFoundError:
            raise ToolMissingError(
                f"{plan.argv[0]} not found", fix="install Rust with rustup (https://rustup.rs)"
            ) from None
        self._captured: list[bytes] = []
        self._held = hold
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._tee, daemon=True)
        self._reader.start()

    def release(self) -> None:
        """Show what cargo printed so far (but OWN_LOCK_WAIT), and from now on as it comes."""
        with self._lock:
            self._held = False
            text = b"".join(self._captured).decode("utf-8", "replace")
            lines = text.splitlines(keepends=True)
            _show(self.echo, "".join(x for x in lines if strip_ansi(x).strip() != OWN_LOCK_WAIT))

    def cancel(self) -> None:
        """Stop it with everything it started, and wait; what it printed is dropped. SIGKILL to its group: a run
        on a wrong guess has no work worth finishing (cargo rebuilds whatever it did not record as done), and a
        build script's background child that ignores SIGINT goes too. Sent before cargo is reaped, so the group
        id cannot name anyone else's."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._reader.join(timeout=5)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def finished(self) -> bool:
        return self._process.poll() is not None

    def wait(self) -> CargoRun:
        process = self._process
        executables: list[Path] = []
        try:
            assert process.stdout is not None
            for line in process.stdout:
                executables += _executables_in(line)
            process.wait()
        finally:
            if process.poll() is None:  # interrupted (Ctrl-C, SIGTERM): let cargo stop cleanly, then insist
                _stop(process)
            self._reader.join(timeout=5)
        output = strip_ansi(b"".join(self._captured).decode("utf-8", "replace"))
        seconds = time.monotonic() - self._started
        return CargoRun(process.returncode, output, tuple(dict.fromkeys(executables)), seconds)

    def _tee(self) -> None:
        assert self._process.stderr is not None
        fd = self._process.stderr.fileno()
        while chunk := os.read(fd, 65536):
            with self._lock:
                self._captured.append(chunk)
                if not self._held:
                    _show(self.echo, chunk.decode("utf-8", "replace"))


def _show(echo: IO[str], text: str) -> None:
    try:
        echo.write(text)
        echo.flush()
    except (OSError, ValueError):
        pass  # the user's terminal went away; keep capturing for the diagnosis


def _executables_in(line: bytes) -> list[Path]:
    try:
        message: dict[str, Any] = json.loads(line)
    except ValueError:
        return []
    if message.get("reason") != "compiler-artifact" or not message.get("executable"):
        return []
    if "bin" not in message.get("target", {}).get("kind", ()):
        return []
    return [Path(message["executable"])]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to cargo's whole group (what a terminal's Ctrl-C would do), then SIGKILL if it lingers."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=INTERRUPT_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue
