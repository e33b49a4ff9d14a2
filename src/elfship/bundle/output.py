"""A bundle's OUT: never clobbered without --force, and then only an earlier bundle; written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from elfship.atomic import StagedOutput
from elfship.errors import ElfshipError, UsageError


class OutputSlot:
    """Where a bundle is built before it becomes OUT (elfship.atomic.StagedOutput), after the checks that
    keep a user's files safe: OUT must not exist, or with --force be an earlier bundle."""

    def __init__(self, out: Path, *, force: bool) -> None:
        self.out = out
        self.force = force
        _refuse_existing(out, force)
        parent = out.parent
        if not parent.is_dir():
            raise UsageError(f"cannot write {out}: {parent} is not a directory", fix=f"mkdir -p {parent}")
        try:
            self._staged = StagedOutput(out)
        except OSError as exc:
            raise ElfshipError(
                f"cannot write {out}: {parent} is not writable ({exc.strerror})",
                fix="choose -o in a directory you can write to",
            ) from None
        self.staging = self._staged.staging

    def temporary_file(self) -> Path:
        """A path for a single-file output, beside OUT."""
        return self._staged.temporary_file()

    def publish(self, built: Path) -> None:
        """Move `built` to OUT; with --force replace the earlier bundle there (checked again: it may have
        changed while the bundle was built)."""
        _refuse_existing(self.out, self.force)
        self._staged.publish(built)

    def cleanup(self) -> None:
        self._staged.cleanup()


def _refuse_existing(out: Path, force: bool) -> None:
    if os.path.lexists(out) and not force:
        raise UsageError(f"{out} already exists", fix="pass --force to replace it, or choose another -o")
    if force and out.is_dir() and not out.is_symlink() and not _looks_like_output(out):
        raise UsageError(
            f"{out} is a directory that is not an elfship bundle; --force replaces only bundles",
            fix="choose another -o",
        )


def _looks_like_output(out: Path) -> bool:
    """--force on a directory replaces it only when it is a bundle (or empty): never a home directory."""
    return (out / "elfship-bundle.json").is_file() or not any(out.iterdir())
