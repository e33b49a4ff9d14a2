"""Writing a file so that nothing the user had is lost: a temp file beside it, renamed over it at the end.

The one way elfship writes its outputs: a single file (a built binary, an SBOM, a generated wrapper script)
with `replacing`, a directory or a file built in several steps (a bundle) with `StagedOutput`. A reader sees
the old output or the whole new one, and an error or Ctrl-C leaves the destination as it was, with no temp
file behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".elfship-tmp"


@contextmanager
def replacing(destination: Path, *, mode: int | None = None) -> Iterator[Path]:
    """A temp path beside DESTINATION (same filesystem, so the rename is atomic) for the caller to fill;
    on a normal exit it gets MODE and replaces DESTINATION, on any exception it is removed."""
    fd, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=TEMP_SUFFIX, dir=destination.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, destination)
    except BaseException:  # KeyboardInterrupt included: never leave the temp file behind
        temp.unlink(missing_ok=True)
        raise


def write_bytes(destination: Path, data: bytes, *, mode: int | None = None) -> None:
    with replacing(destination, mode=mode) as temp:
        temp.write_bytes(data)


class StagedOutput:
    """A place beside OUT (same filesystem) to build a directory or a file, then publish it with one rename:
    the way a multi-file output (a bundle) is written. A replaced OUT is moved aside first and removed only
    once the new one stands in its place, so a failure at any point leaves the old one."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=TEMP_SUFFIX, dir=out.parent))

    def temporary_file(self) -> Path:
        """A path for a single-file output, beside OUT."""
        return self.staging.with_name(self.staging.name + ".out")

    def publish(self, built: Path) -> None:
        """Move `built` (a directory or file beside OUT) to OUT, replacing what is there."""
        if not os.path.lexists(self.out):
            os.rename(built, self.out)
            return
        aside = self.staging.with_name(self.staging.name + ".old")
        os.rename(self.out, aside)
        try:
            os.rename(built, self.out)
        except OSError:
            os.rename(aside, self.out)
            raise
        _remove(aside)

    def cleanup(self) -> None:
        for leftover in (self.staging, self.temporary_file()):
            _remove(leftover)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
