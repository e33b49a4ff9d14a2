"""Dynamic string tokens in RPATH, RUNPATH, LD_LIBRARY_PATH and DT_NEEDED: $ORIGIN, $LIB, $PLATFORM.

glibc (elf/dl-load.c _dl_dst_substitute): "$NAME" or "${NAME}"; an unknown token stays as written; a token
that cannot be expanded (no origin known; $ORIGIN in a setuid program) drops the whole element. musl expands
$ORIGIN only.
"""

from __future__ import annotations

import re

from elfship.record import record

# Patterns, compiled by re on first use (most objects have no $ token at all, and never get that far).
_TOKEN = r"\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))"
_MUSL_TOKEN = r"\$(?:\{ORIGIN\}|ORIGIN(?![A-Za-z0-9_]))"


@record
class Expanded:
    path: str
    uses_origin: bool  # the directory moves with the object: it lives where that object lives


def has_origin(element: str) -> bool:
    return "$" in element and any(
        (m.group(1) or m.group(2)) == "ORIGIN" for m in re.finditer(_TOKEN, element)
    )


def expand_glibc(
    element: str,
    *,
    origin: str | None,
    lib: str,
    platform: str,
    secure: bool = False,
) -> Expanded | None:
    """One path element with its tokens replaced, or None when glibc would drop it."""
    if "$" not in element:
        return Expanded(element, False)
    uses_origin = False
    pieces: list[str] = []
    last = 0
    for match in re.finditer(_TOKEN, element):
        name = match.group(1) or match.group(2)
        if name == "ORIGIN":
            # Setuid: only "$ORIGIN" as the very first thing of the element is honoured.
            if origin is None or (secure and not (match.start() == 0 and _ends_token(element, match.end()))):
                return None
            replacement = origin
            uses_origin = True
        elif name == "LIB":
            replacement = lib
        else:
            replacement = platform
        pieces.append(element[last : match.start()])
        pieces.append(replacement)
        last = match.end()
    pieces.append(element[last:])
    return Expanded("".join(pieces), uses_origin)


def expand_musl(element: str, *, origin: str | None) -> Expanded | None:
    if "$" not in element or not re.search(_MUSL_TOKEN, element):
        return Expanded(element, False)
    if origin is None:
        return None
    return Expanded(re.sub(_MUSL_TOKEN, lambda _m: origin, element), True)


def _ends_token(element: str, end: int) -> bool:
    return end == len(element) or element[end] == "/"


def directory_of(path: str) -> str:
    """dirname as ld.so computes an object's origin: strip the last component, keep "/" for "/foo"."""
    head = path.rsplit("/", 1)[0]
    return head or "/"


def join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}" if directory != "/" else f"/{name}"
