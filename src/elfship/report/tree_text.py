"""Render a Resolution: a box-drawing dependency tree, and the `elfship tree --json` document."""

from __future__ import annotations

from elfship.record import field, record
from elfship.resolve.model import VIA_INTERPRETER, Resolution, ResolvedLibrary

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from typing import Any

# Always there and rarely the question: hidden from the tree unless --all (never when missing).
FOLDED_PREFIXES = ("libc.so.", "libgcc_s.so.", "libc.musl-", "ld-linux", "ld64.so.", "ld-musl-")

RED, DIM, RESET = "\033[31m", "\033[2m", "\033[0m"


@record
class Style:
    color: bool = False

    def missing(self, text: str) -> str:
        return f"{RED}{text}{RESET}" if self.color else text

    def dim(self, text: str) -> str:
        return f"{DIM}{text}{RESET}" if self.color else text


def is_folded(lib: ResolvedLibrary) -> bool:
    return not lib.missing and (lib.found_via == VIA_INTERPRETER or lib.soname.startswith(FOLDED_PREFIXES))


# Deeper levels are drawn at this indent, each labelled with its depth: a 5,000-deep chain would otherwise
# print 50 MB of box-drawing prefixes (the text grows with the square of the depth).
MAX_INDENT = 32


@record(frozen=False)
class _Node:
    """One line of the display tree. Mutable only while _build fills in its children."""

    name: str
    lib: ResolvedLibrary | None
    repeat: bool  # already shown above with its subtree
    children: list[_Node] = field(default_factory=list)


def render_tree(resolution: Resolution, *, show_all: bool = False, color: bool = False) -> str:
    style = Style(color)
    lines = [_headline(resolution)]
    if resolution.interpreter is not None and resolution.interpreter.missing:
        lines.append(style.missing(f"interpreter {resolution.interpreter.steps[0].path}: not found"))
        lines.extend(_steps(resolution.interpreter, "    ", style))
    hidden: list[str] = []
    roots = _build(resolution, show_all, hidden)
    _render(roots, lines, style)
    if hidden:
        lines.append(style.dim(f"({len(hidden)} hidden: {', '.join(hidden)}; --all shows them)"))
    lines.extend(f"warning: {w}" for w in resolution.warnings)
    return "\n".join(lines)


def _build(resolution: Resolution, show_all: bool, hidden: list[str]) -> list[_Node]:
    """The display tree in depth-first order: each library expanded where it first appears.

    An explicit stack, not recursion: a DT_NEEDED chain can be thousands of libraries deep.
    """
    children = _children(resolution)
    by_name = resolution.by_soname()
    shown: set[str] = set()
    roots: list[_Node] = []
    stack = [(iter(children.get(resolution.program_name, [])), roots)]
    while stack:
        names, siblings = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
            continue
        lib = by_name.get(name)
        if lib is not None and not show_all and is_folded(lib):
            if name not in hidden:
                hidden.append(name)
            continue
        if name in shown:
            if show_all:
                siblings.append(_Node(name, lib, True))
            continue
        shown.add(name)
        node = _Node(name, lib, False)
        siblings.append(node)
        stack.append((iter(children.get(name, [])), node.children))
    return roots


def _render(roots: list[_Node], lines: list[str], style: Style) -> None:
    stack: list[tuple[list[_Node], int, str, int]] = [
        (roots, 0, "", 0)
    ]  # siblings, next index, prefix, depth
    while stack:
        siblings, index, prefix, depth = stack.pop()
        if index >= len(siblings):
            continue
        stack.append((siblings, index + 1, prefix, depth))
        node = siblings[index]
        last = index == len(siblings) - 1
        branch, indent = ("└── ", "    ") if last else ("├── ", "│   ")
        label = _label(node.name, node.lib, style, node.repeat)
        if depth >= MAX_INDENT:
            label = f"[depth {depth + 1}] {label}"
        lines.append(prefix + branch + label)
        inner = prefix + indent if depth < MAX_INDENT else prefix
        if node.lib is not None and node.lib.missing and not node.repeat:
            lines.extend(_steps(node.lib, inner + "  ", style))
        stack.append((node.children, 0, inner, depth + 1))


def _headline(resolution: Resolution) -> str:
    program = resolution.program
    facts = [program.kind.value, resolution.libc_family]
    if program.libc.min_version:
        facts.append(f"needs GLIBC_{program.libc.min_version}")
    if resolution.root:
        facts.append(f"root {resolution.root}")
    if program.isa_level:  # only what the file declares, never this CPU's level
        facts.append(f"needs {program.isa_level}")
    return f"{resolution.program_name} [{', '.join(facts)}]"


def _children(resolution: Resolution) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {}
    for needer, needed in resolution.edges:
        kids = children.setdefault(needer, [])
        if needed not in kids:
            kids.append(needed)
    return children


def _label(name: str, lib: ResolvedLibrary | None, style: Style, repeat: bool) -> str:
    if lib is None:
        return name
    if lib.missing:
        reason = f"not found ({lib.error})" if lib.error else "not found"
        return style.missing(f"{name} => {reason}")
    text = f"{name} => {lib.path} [{lib.found_via}]"
    return style.dim(text + " (see above)") if repeat else text


def _steps(lib: ResolvedLibrary, indent: str, style: Style) -> list[str]:
    lines = [
        style.dim(f"{indent}{n}. [{s.source}] {s.path}: {s.outcome}") for n, s in enumerate(lib.steps, 1)
    ]
    if lib.hint:
        lines.append(f"{indent}hint: {lib.hint}")
    return lines


def tree_document(resolution: Resolution) -> dict[str, Any]:
    """The `elfship tree --json` document (without schema_version; jsonout.emit adds it)."""
    found = [_library_json(lib) for lib in resolution.libraries]
    missing = [_library_json(lib) for lib in resolution.missing]
    return {
        "path": resolution.program_name,
        "root": resolution.root,
        "libc_family": resolution.libc_family,
        "isa": resolution.isa,
        "interpreter": _library_json(resolution.interpreter) if resolution.interpreter else None,
        "libraries": found + missing,  # missing ones last, with "path": null
        "missing": missing,
        "edges": [list(edge) for edge in resolution.edges],
        "warnings": list(resolution.warnings),
    }


def _library_json(lib: ResolvedLibrary) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "soname": lib.soname,
        "path": lib.path,
        "host_path": lib.host_path,
        "found_via": lib.found_via,
        "needed_by": list(lib.needed_by),
    }
    if lib.missing:
        entry["steps"] = [{"source": s.source, "path": s.path, "outcome": s.outcome} for s in lib.steps]
        entry["error"] = lib.error
        entry["hint"] = lib.hint
    return entry
