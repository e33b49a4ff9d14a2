"""PT_NOTE: build-id, the ABI tag (minimum kernel), GNU property notes (x86 ISA level)."""

from __future__ import annotations

import struct

from elfship.elf import constants as c
from elfship.elf.budget import MAX_NOTE_DESC, MAX_NOTE_SEGMENTS, MAX_NOTES
from elfship.elf.headers import Layout, Segment
from elfship.elf.image import Image
from elfship.record import NamedTuple

ABI_TAG = {True: struct.Struct("<4I"), False: struct.Struct(">4I")}  # OS, then the kernel version
MAX_NOTE_NAME = 64  # "GNU", "Go", "stapsdt", ...: a longer name is none elfship reads, so it is not copied


class NoteFacts(NamedTuple):  # one per parse: a NamedTuple is cheaper to build than a record
    build_id: str | None = None
    min_kernel: str | None = None
    isa_needed: int = 0  # GNU_PROPERTY_X86_ISA_1_NEEDED bits
    go_build_id: bool = False


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & ~(alignment - 1)


NOTE_SEGMENT_TYPES = frozenset({c.PT_NOTE, c.PT_GNU_PROPERTY})  # segments that hold notes


def read_notes(image: Image, layout: Layout, segments: tuple[Segment, ...]) -> NoteFacts:
    build_id: str | None = None
    min_kernel: str | None = None
    isa_needed = 0
    go = False
    seen: list[int] = []  # offsets walked: PT_GNU_PROPERTY repeats a PT_NOTE
    walked = 0  # notes, over all segments
    for seg in segments:
        if seg.p_type not in NOTE_SEGMENT_TYPES or seg.offset in seen:
            continue
        seen.append(seg.offset)
        if len(seen) > MAX_NOTE_SEGMENTS:
            raise image.budget.exceeded(f"more than {MAX_NOTE_SEGMENTS:,} note segments")
        notes, walked = _walk_notes(image, layout, seg, walked)
        for name, note_type, desc in notes:
            if name == b"Go":
                go = True
            elif name != b"GNU":
                continue
            elif note_type == c.NT_GNU_BUILD_ID:
                build_id = desc.hex()
            elif note_type == c.NT_GNU_ABI_TAG and len(desc) >= 16:
                os_id, *version = ABI_TAG[layout.little_endian].unpack_from(desc)
                if os_id == c.ABI_TAG_OS_LINUX:
                    min_kernel = ".".join(map(str, version))
            elif note_type == c.NT_GNU_PROPERTY_TYPE_0:
                isa_needed |= _isa_needed(layout, desc)
    return NoteFacts(build_id, min_kernel, isa_needed, go)


def _walk_notes(
    image: Image, layout: Layout, seg: Segment, walked: int
) -> tuple[list[tuple[bytes, int, bytes]], int]:
    """(name, type, descriptor) of each note of one segment, and the count of notes walked so far. A note
    with an overlong name or descriptor is skipped, never copied (no note elfship uses is that large), so a
    note claiming gigabytes costs nothing."""
    # Notes are 4-byte aligned, except GNU property notes in ELF64 which p_align says are 8-byte aligned.
    mask = 7 if seg.align == 8 else 3
    end = min(seg.offset + seg.filesz, image.size)
    offset = max(seg.offset, 0)
    notes: list[tuple[bytes, int, bytes]] = []
    data, unpack = image.data, layout.note.unpack_from
    while offset + 12 <= end:
        walked += 1
        if walked > MAX_NOTES:
            raise image.budget.exceeded(f"more than {MAX_NOTES:,} notes")
        namesz, descsz, note_type = unpack(data, offset)
        # _align written out (a note per loop, every file): padding is relative to the note start.
        desc_start = offset + ((12 + namesz + mask) & ~mask)
        next_offset = desc_start + ((descsz + mask) & ~mask)
        if desc_start + descsz > end or next_offset <= offset:
            break  # a bad note ends the note list; what came before stays valid
        if namesz <= MAX_NOTE_NAME and descsz <= MAX_NOTE_DESC:  # slices of bytes and of mmap are bytes
            name = data[offset + 12 : offset + 12 + namesz].rstrip(b"\0")
            notes.append((name, note_type, data[desc_start : desc_start + descsz]))
        offset = next_offset
    return notes, walked


def _isa_needed(layout: Layout, desc: bytes) -> int:
    step = 8 if layout.elf_class == 64 else 4
    offset, bits = 0, 0
    while offset + 8 <= len(desc):
        pr_type, pr_datasz = (
            layout.u32.unpack_from(desc, offset)[0],
            layout.u32.unpack_from(desc, offset + 4)[0],
        )
        if pr_type == c.GNU_PROPERTY_X86_ISA_1_NEEDED and pr_datasz >= 4 and offset + 12 <= len(desc):
            bits |= layout.u32.unpack_from(desc, offset + 8)[0]
        offset += 8 + _align(pr_datasz, step)
    return bits


def isa_level_name(bits: int) -> str | None:
    for bit, name in c.X86_ISA_LEVELS:
        if bits & bit:
            return name
    return None
