"""Start the sandbox, read its output through bounded buffers, and make sure that when we are done (exit,
timeout, Ctrl-C, SIGTERM) every process it started is dead."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from elfship.record import record

HEAD_BYTES = 16 * 1024
TAIL_BYTES = 16 * 1024
CHUNK = 64 * 1024
DRAIN_AFTER_KILL = 2.0  # seconds: pipes still held by dying processes are not waited on for ever


class Bounded:
    """Keeps the first and the last bytes of a stream of any length, and counts the rest."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.total = 0
        self._head_cap, self._tail_cap = head, tail

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail.append(chunk)
            self.tail_len += len(chunk)
            while self.tail_len - len(self.tail[0]) >= self._tail_cap:
                self.tail_len -= len(self.tail.popleft())

    def text(self) -> str:
        tail = b"".join(self.tail)[-self._tail_cap :]
        skipped = self.total - len(self.head) - len(tail)
        gap = f"\n[... {skipped} bytes not kept ...]\n".encode() if skipped else b""
        return (bytes(self.head) + gap + tail).decode("utf-8", "replace")


@record
class Finished:
    exit_code: int | None  # None when killed at the timeout; -N when the sandbox died of signal N
    timed_out: bool
    exec_seen: bool  # at the timeout: a process in the sandbox had become something else than the launcher
    stdout: str
    stderr: str
    stdout_bytes: int


def supervise(
    argv: list[str],
    *,
    timeout: float,
    preexec: Callable[[], None],
    pass_fds: tuple[int, ...] = (),
    launchers: frozenset[str] = frozenset(),
) -> Finished:
    out, err = Bounded(), Bounded()
    with _sigterm_interrupts():
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: killed as one
            preexec_fn=preexec,
            pass_fds=pass_fds,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
        )
        timed_out = exec_seen = False
        try:
            timed_out = not _pump(process, out, err, time.monotonic() + timeout)
            if timed_out:
                exec_seen = _exec_seen(process.pid, launchers)
        finally:
            _kill_tree(process)
            _pump(process, out, err, time.monotonic() + DRAIN_AFTER_KILL)
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
    code = None if timed_out else process.returncode
    return Finished(code, timed_out, exec_seen, out.text(), err.text(), out.total)


def _pump(process: subprocess.Popen[bytes], out: Bounded, err: Bounded, deadline: float) -> bool:
    """Read both pipes until both close and the process exits (True), or until the deadline (False)."""
    selector = selectors.DefaultSelector()
    for pipe, sink in ((process.stdout, out), (process.stderr, err)):
        if pipe is not None and not pipe.closed:
            selector.register(pipe, selectors.EVENT_READ, sink)
    try:
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in selector.select(min(left, 0.5)):
                chunk = os.read(key.fd, CHUNK)
                if chunk:
                    key.data.add(chunk)
                else:
                    selector.unregister(key.fileobj)
    finally:
        selector.close()
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return True


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole group; the sandbox tool's death takes its pid namespace (and so every process
    the program started, setsid daemons included) with it."""
    if process.poll() is None:
        inside = descendants(process.pid)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _wait_gone(inside, time.monotonic() + 10)


def _wait_gone(pids: list[int], deadline: float) -> None:
    """The kernel tears a pid namespace down asynchronously: return only once its processes are gone."""
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
        if pids:
            time.sleep(0.02)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, found through /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read(4096).rsplit(b")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _exec_seen(pid: int, launchers: frozenset[str]) -> bool:
    for child in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{child}/comm", encoding="utf-8", errors="replace") as handle:
                comm = handle.read(64).strip()
            # Python: elfship's own forked child before exec, or the unshare fallback's inner.py.
            if comm not in launchers and not comm.startswith("python"):
                return True
        except OSError:
            continue
    return False


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, through the `finally` that kills the sandbox."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
