"""Writing a file so that nothing the user had is lost: a temp file beside it, renamed over it at the end.

The one way elfship writes a single file (a built binary, an SBOM, a generated wrapper script): a reader sees
the old file or the whole new one, and an error or Ctrl-C leaves the destination as it was, with no temp
file behind.
"""

from __future__ import annotations

import os
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
