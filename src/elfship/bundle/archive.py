"""Pack a staged bundle tree: a deterministic .tar.gz, or the payload of a self-extracting file.

Deterministic means the same inputs give the same bytes: entries sorted, owners 0, times fixed
($SOURCE_DATE_EPOCH or 0), no gzip name or time. The self-extracting payload format is documented in launcher.c.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import stat
import struct
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from elfship.errors import ElfshipError
from elfship.record import record

_ENTRY_HEADER = struct.Struct("<BBHIQQI")  # type, 0, path length, mode, size, stored length, crc32
_SLICE = 1 << 20
# What unlzma.c decodes: the x86 BCJ filter (CALL/JMP targets made absolute: about 5% smaller on x86 code,
# harmless elsewhere), then raw LZMA1 with its fixed lc/lp/pb (no header in the stream). Preset 6: -9, "extreme",
# nice_len 273 and other lc/lp/pb all came out equal or larger on the libpq program's libraries.
LZMA_FILTERS = (
    {"id": lzma.FILTER_X86},
    {"id": lzma.FILTER_LZMA1, "preset": 6, "lc": 3, "lp": 0, "pb": 2},
)
_MAX_RATIO = 1032  # MAX_LZMA_RATIO in unpack.c
# Solid blocks: the files of a bundle, in tree order, go into one LZMA stream of up to SOLID_LIMIT bytes (what
# the launcher holds in memory while unpacking; a larger file gets a stream of its own). Libraries repeat each
# other's code, tables and strings: on the libpq program one stream is 5% smaller than one per file. The
# dictionary covers up to SOLID_DICT of it (16 MiB: as small as 32 MiB was; the encoder needs about 11 times it).
SOLID_LIMIT = 32 << 20
SOLID_DICT = 16 << 20


@record
class TreeItem:
    path: str  # relative to the tree root, "/"-separated
    kind: str  # "dir", "file" or "link"
    mode: int  # permission bits
    target: str | None = None  # for links


def walk_tree(root: Path, skip: Iterable[str] = ()) -> list[TreeItem]:
    """Every directory, file and link under root, parents before children, in a stable order."""
    skipped = set(skip)
    items: list[TreeItem] = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        relative_top = os.path.relpath(top, root)
        names = sorted([*dirs, *files])
        for name in names:
            path = name if relative_top == "." else f"{relative_top}/{name}"
            if path in skipped:
                continue
            full = os.path.join(top, name)
            info = os.lstat(full)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                items.append(TreeItem(path, "link", 0o777, os.readlink(full)))
            elif stat.S_ISDIR(info.st_mode):
                items.append(TreeItem(path, "dir", mode))
            elif stat.S_ISREG(info.st_mode):
                items.append(TreeItem(path, "file", mode))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
    return sorted(items, key=lambda item: item.path.split("/"))


def plain_relative(path: str) -> bool:
    """A relative path of plain components: no leading '/', no empty, '.' or '..' component (unpack.c's rule)."""
    return bool(path) and not path.startswith("/") and all(p not in ("", ".", "..") for p in path.split("/"))


def link_stays_inside(link: str, target: str, system_loader: str = "") -> bool:
    """A symlink target the extractors accept (unpack.c safe_link_target, sh_stub.py `inside`): its '..'
    all leading and no more than the link's parents, then plain components; or the target's own loader."""
    if target.startswith("/"):
        return bool(system_loader) and target == system_loader
    parts = target.split("/")
    ups = next((i for i, part in enumerate(parts) if part != ".."), len(parts))
    rest = "/".join(parts[ups:])
    return bool(target) and ups <= link.count("/") and (not rest or plain_relative(rest))


def refuse_unsafe(items: list[TreeItem], system_loader: str = "") -> None:
    """What the extractors would refuse as a corrupt payload is never written into one: say so at bundle time."""
    for item in items:
        listed = " -> " in item.path or " link to " in item.path or "\n" in item.path  # tar -tv markers
        if not plain_relative(item.path) or listed:
            raise ElfshipError(f"cannot bundle a file named {item.path!r}", fix="rename it")
        if item.kind == "link" and not link_stays_inside(item.path, item.target or "", system_loader):
            raise ElfshipError(
                f"cannot bundle the symlink {item.path} -> {item.target}: it points outside the bundle",
                fix="--add the file it points to instead",
            )


def source_date_epoch() -> int:
    try:
        return max(0, int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    except ValueError:
        return 0


def write_tar_gz(root: Path, items: list[TreeItem], handle: BinaryIO, top: str) -> None:
    """A .tar.gz whose single top directory is `top`."""
    mtime = source_date_epoch()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=9) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(_tar_info(top, tarfile.DIRTYPE, 0o755, mtime))
        for item in items:
            name = f"{top}/{item.path}"
            if item.kind == "dir":
                tar.addfile(_tar_info(name, tarfile.DIRTYPE, item.mode, mtime))
            elif item.kind == "link":
                info = _tar_info(name, tarfile.SYMTYPE, 0o777, mtime)
                info.linkname = item.target or ""
                tar.addfile(info)
            else:
                data = (root / item.path).read_bytes()
                info = _tar_info(name, tarfile.REGTYPE, item.mode, mtime)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def tar_gz_bytes(root: Path, items: list[TreeItem]) -> bytes:
    """A .tar.gz with entries at the top level (the sh self-extracting payload)."""
    buffer = io.BytesIO()
    mtime = source_date_epoch()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for item in items:
            kind = {"dir": tarfile.DIRTYPE, "link": tarfile.SYMTYPE}.get(item.kind, tarfile.REGTYPE)
            info = _tar_info(item.path, kind, item.mode, mtime)
            if item.kind == "link":
                info.linkname = item.target or ""
                tar.addfile(info)
            elif item.kind == "file":
                data = (root / item.path).read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def _tar_info(name: str, kind: bytes, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_payload(root: Path, items: list[TreeItem], handle: BinaryIO) -> tuple[int, str]:
    """Write the self-extracting payload; returns its size and a hash naming its cache directory."""
    digest = hashlib.sha256()
    size = 0
    for chunk in _payload_chunks(root, items):
        handle.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()[:32]


def _payload_chunks(root: Path, items: list[TreeItem]) -> Iterator[bytes]:
    """The entries in tree order, each solid block ('X') just before the first file taken from it."""
    blocks = _solid_blocks(root, items)
    opening = {block[0].path: block for block in blocks}
    in_block = {item.path for block in blocks for item in block}
    for item in items:
        block = opening.get(item.path)
        if block is not None:
            chunk = _solid_entry(root, block)
            if chunk is None:  # LZMA would not shrink it: each file on its own after all
                in_block.difference_update(member.path for member in block)
            else:
                yield chunk
        yield _solid_file_entry(root, item) if item.path in in_block else _payload_entry(root, item)


def _solid_blocks(root: Path, items: list[TreeItem]) -> list[list[TreeItem]]:
    """Consecutive non-empty files, cut before SOLID_LIMIT; a file as large as that alone stays out."""
    blocks: list[list[TreeItem]] = []
    current: list[TreeItem] = []
    filled = 0
    for item in items:
        size = (root / item.path).stat().st_size if item.kind == "file" else 0
        if size == 0 or size >= SOLID_LIMIT:
            continue
        if current and filled + size > SOLID_LIMIT:
            blocks.append(current)
            current, filled = [], 0
        current.append(item)
        filled += size
    return [*blocks, current] if current else blocks


def _solid_entry(root: Path, block: list[TreeItem]) -> bytes | None:
    data = b"".join((root / item.path).read_bytes() for item in block)
    lzma1 = {**LZMA_FILTERS[1], "dict_size": max(1 << 16, min(SOLID_DICT, len(data)))}
    packed = _packed(lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[LZMA_FILTERS[0], lzma1]), data)
    if not len(packed) < len(data) <= _MAX_RATIO * len(packed):
        return None
    return _ENTRY_HEADER.pack(ord("X"), 0, 0, 0, len(data), len(packed), 0) + packed


def _solid_file_entry(root: Path, item: TreeItem) -> bytes:
    path = item.path.encode("utf-8", "surrogateescape")
    data = (root / item.path).read_bytes()
    return _ENTRY_HEADER.pack(ord("s"), 0, len(path), item.mode, len(data), 0, zlib.crc32(data)) + path


def _payload_entry(root: Path, item: TreeItem) -> bytes:
    path = item.path.encode("utf-8", "surrogateescape")
    if item.kind == "dir":
        return _ENTRY_HEADER.pack(ord("d"), 0, len(path), item.mode, 0, 0, 0) + path
    if item.kind == "link":
        target = (item.target or "").encode("utf-8", "surrogateescape")
        crc = zlib.crc32(target)
        return (
            _ENTRY_HEADER.pack(ord("l"), 0, len(path), 0o777, len(target), len(target), crc) + path + target
        )
    data = (root / item.path).read_bytes()
    kind, stored = _smallest(data)
    header = _ENTRY_HEADER.pack(ord(kind), 0, len(path), item.mode, len(data), len(stored), zlib.crc32(data))
    return header + path + stored


def _smallest(data: bytes) -> tuple[str, bytes]:
    """LZMA ('x': about a quarter smaller than DEFLATE on libraries), else DEFLATE ('f'), else the bytes as
    they are ('r'). LZMA only up to the expansion ratio unpack.c accepts (MAX_LZMA_RATIO); DEFLATE is tried
    only when LZMA is not taken, since it costs as much time again for a larger result."""
    if data:
        packed = _packed(lzma.LZMACompressor(lzma.FORMAT_RAW, filters=LZMA_FILTERS), data)
        if len(packed) < len(data) <= _MAX_RATIO * len(packed):
            return "x", packed
    deflated = _packed(zlib.compressobj(9, zlib.DEFLATED, -15), data)
    return ("f", deflated) if len(deflated) < len(data) else ("r", data)


class _Packer(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self) -> bytes: ...


def _packed(packer: _Packer, data: bytes) -> bytes:
    # In slices: Ctrl-C or SIGTERM is handled between two, not after a whole 100 MB library.
    pieces = [packer.compress(data[at : at + _SLICE]) for at in range(0, len(data), _SLICE)]
    return b"".join(pieces) + packer.flush()
