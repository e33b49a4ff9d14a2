"""Where a program checked against a root sits inside that root.

One answer serves the prediction (`$ORIGIN` is this path, never the host path) and `--run` (the copy is
placed at this path inside the sandbox), so the two cannot disagree about where the program is.
"""

from __future__ import annotations

import posixpath

from elfship.errors import UsageError

DEFAULT_DIRECTORY = "/usr/local/bin"


def place_in_root(name: str, at: str | None = None) -> str:
    """The in-root path of a program called `name` that comes from outside the root (`--at` overrides).

    An `at` ending in "/" is a directory: the program keeps its name there.
    """
    if at is None:
        return posixpath.join(DEFAULT_DIRECTORY, name)
    normal = posixpath.normpath(at)
    if not at.startswith("/") or ".." in at.split("/") or "\0" in at or normal in ("/", "//"):
        raise UsageError(
            f"--at {at!r} is not an absolute path inside the root", fix="give one like /usr/local/bin/NAME"
        )
    if at.endswith("/"):
        return posixpath.join(normal, name)
    return normal
