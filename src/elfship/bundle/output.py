"""Write OUT atomically: build next to it under a temporary name, then rename; never clobber without --force."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from elfship.errors import ElfshipError, UsageError


class OutputSlot:
    """A temporary place next to OUT (same filesystem, so the final rename is atomic)."""

    def __init__(self, out: Path, *, force: bool) -> None:
        self.out = out
        self.force = force
        _refuse_existing(out, force)
        parent = out.parent
        if not parent.is_dir():
            raise UsageError(f"cannot write {out}: {parent} is not a directory", fix=f"mkdir -p {parent}")
        try:
            self.staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".elfship-tmp", dir=parent))
        except OSError as exc:
            raise ElfshipError(
                f"cannot write {out}: {parent} is not writable ({exc.strerror})",
                fix="choose -o in a directory you can write to",
            ) from None

    def temporary_file(self) -> Path:
        """A path for a single-file output, beside OUT."""
        return self.staging.with_name(self.staging.name + ".out")

    def publish(self, built: Path) -> None:
        """Move `built` (a directory or file beside OUT) to OUT; with --force replace what was there."""
        _refuse_existing(self.out, self.force)
        if not os.path.lexists(self.out):
            os.rename(built, self.out)
            return
        # --force: move the old OUT aside first, so a failure never leaves neither old nor new.
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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
