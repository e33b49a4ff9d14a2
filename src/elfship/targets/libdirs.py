"""The library directories of a root filesystem: what `targets` scans to list a root's sonames.

Built on the resolver's root view (symlinks followed inside the root) and its ld.so.conf and musl path
readers, so a root is read here exactly as `elfship tree --root` reads it.
"""

from __future__ import annotations

from elfship.resolve.environment import MUSL_DEFAULT_PATH, musl_path_elements
from elfship.resolve.ldconf import read_ld_so_conf
from elfship.resolve.rootfs import FileView, Located

# Directories both loaders search (or that ldconfig always caches) besides the configured ones.
DEFAULT_DIRECTORIES = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")
MAX_PATH_FILE = 1 << 20


def locate_file(view: FileView, path: str) -> Located | None:
    """The regular file at `path` inside the view's root, or None."""
    found = view.locate(path)
    return found if isinstance(found, Located) and not found.is_dir else None


def library_directories(view: FileView) -> list[Located]:
    """Existing library directories: ld.so.conf ones first, then musl's path, then the defaults; each real
    directory once (on merged-/usr systems /lib and /usr/lib are the same directory)."""
    wanted = [*read_ld_so_conf(view).directories, *_musl_directories(view), *DEFAULT_DIRECTORIES]
    seen: set[str] = set()
    result: list[Located] = []
    for directory in wanted:
        found = view.locate(directory)
        if isinstance(found, Located) and found.is_dir and found.real_path not in seen:
            seen.add(found.real_path)
            result.append(found)
    return result


def _musl_directories(view: FileView) -> tuple[str, ...]:
    """musl's system path from /etc/ld-musl-ARCH.path, or its built-in default when a musl loader exists."""
    for path_file in view.glob("/etc/ld-musl-*.path"):
        data = view.read_file(path_file, MAX_PATH_FILE)  # confined to the root; never a FIFO or device
        if isinstance(data, bytes):
            return musl_path_elements(data.decode("utf-8", "surrogateescape"))
    return MUSL_DEFAULT_PATH if view.glob("/lib/ld-musl-*.so.1") else ()
