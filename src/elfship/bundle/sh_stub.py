"""The POSIX sh self-extracting stub: the C launcher's unpack.c, for a target with only sh, tail, gzip and tar.

It must be as hard to turn against its user as the C launcher, with nothing but POSIX tools:

* a cache base is trusted only as the C launcher trusts it: `mkdir -m 700` (which fails on anything already
  there, a planted symlink included), then `ls -ldn` (an lstat: a symlink shows as `l`) must show a directory
  owned by us that group and others cannot write, exactly `drwx------` when we just made it; then `cd -P` into
  it and the same check on `.` (the directory actually entered), and all work happens relative to it;
* the payload (a tar.gz of directories and regular files only) is checked before anything is extracted:
  `gzip -t` (CRC), then the listing: every line a directory or a regular file (no symlink, hard link or
  device; tar's own warnings, e.g. about a leading '/', fail it too) and every name relative with no `..`;
* it is extracted into a private temporary directory, symlinks are made afterwards from the stub's own list
  (each target checked to stay inside, each parent checked to be a real directory), then renamed into place.

Anything wrong with the payload is "corrupt payload", with its fix; only an unusable base moves on to the next.
"""

from __future__ import annotations

from elfship.bundle.launcher import FIND_SELF, sh_exec, sh_quote
from elfship.bundle.model import LoaderSetup

# Exit status of the unpacking subshell when the payload (not the base) is at fault.
_CORRUPT = 3

_HELPERS = """\
case $self in /*) ;; *) self=$(pwd -P)/$self ;; esac
uid=$(id -u) || exit 127
corrupt() {
    echo "elfship launcher: corrupt payload in $self: a gzip, tar or entry check failed, nothing was run" \\
        "(fix: download the bundle again, or rebuild it with elfship bundle)" >&2
    exit 127
}
payload() { tail -c +"$skip" -- "$self" | gzip -dc; }
# private PATH [new]: PATH itself (never what a symlink points to) is a directory owned by us that group and
# others cannot write; exactly rwx------ when we have just made it. An ACL ('+') is refused: it can grant write.
private() {
    set -f
    set -- "$2" $(LC_ALL=C ls -ldn -- "$1" 2>/dev/null)
    set +f
    [ "$#" -ge 4 ] && [ "$4" = "$uid" ] || return 1
    case $1:$2 in
    new:drwx------ | new:drwx------.) return 0 ;;
    new:*) return 1 ;;
    *:drwx?-??-? | *:drwx?-??-?.) return 0 ;;
    esac
    return 1
}
# A relative path of plain components (what unpack.c's safe_relative accepts).
plain() {
    case $1 in '' | /* | . | ./* | .. | ../* | */.. | */../* | */. | */./* | *//* | */) return 1 ;; esac
}
# A symlink target that stays inside the bundle: leading ".." no more than the link's depth, then plain.
# The one absolute target allowed is the target system's own loader (a bundle made without glibc).
inside() {
    plain "$1" || return 1
    case $2 in '') return 1 ;; /*) [ "$2" = "$system_loader" ]; return ;; esac
    depth=0 rest=$1
    while :; do case $rest in */*) depth=$((depth + 1)) rest=${rest#*/} ;; *) break ;; esac; done
    rest=$2
    while :; do
        case $rest in
        ..) depth=$((depth - 1)) rest= ;;
        ../*) depth=$((depth - 1)) rest=${rest#../} ;;
        *) break ;;
        esac
    done
    [ "$depth" -ge 0 ] && { [ -z "$rest" ] || plain "$rest"; }
}
check_payload() {
    tail -c +"$skip" -- "$self" | gzip -t 2>/dev/null || return 1
    listing=$(payload | LC_ALL=C tar -tvf - 2>&1) || return 1
    names=$(payload | LC_ALL=C tar -tf - 2>&1) || return 1
    while IFS= read -r line; do
        case $line in *" -> "* | *" link to "*) return 1 ;; [-d]*) ;; *) return 1 ;; esac
    done <<EOF
$listing
EOF
    while IFS= read -r name; do
        plain "${name%/}" || return 1
    done <<EOF
$names
EOF
}
# link PATH TARGET, inside $tmp: made after extraction, never through another link.
link() {
    inside "$1" "$2" || return 1
    case $1 in */*) parent=${1%/*} ;; *) parent=. ;; esac
    top=$(cd -P -- "$tmp" 2>/dev/null && pwd -P) || return 1
    real=$(cd -P -- "$tmp/$parent" 2>/dev/null && pwd -P) || return 1
    case $parent in .) [ "$real" = "$top" ] ;; *) [ "$real" = "$top/$parent" ] ;; esac || return 1
    ln -s -- "$2" "$tmp/$1" 2>/dev/null
}
exec_ok() {
    probe=.probe.$$
    printf '#!/bin/sh\\n' >"$probe" && chmod 700 "$probe" && ./"$probe" 2>/dev/null
    status=$?
    rm -f -- "$probe"
    return "$status"
}
"""

_UNPACK = f"""\
# In a private base (the current directory): use HASH, or unpack it; 1: base unusable, {_CORRUPT}: corrupt payload.
cached_or_unpacked() {{
    if [ -d "$hash" ] && [ ! -h "$hash" ]; then
        [ -e "$hash/libexec/$program" ] && return 0
        stale=.$hash.$$.stale # a /tmp cleaner took files: unpack again
        mv -- "$hash" "$stale" && rm -rf -- "$stale"
    fi
    tmp=.$hash.$$.tmp
    rm -rf -- "$tmp"
    check_payload || return {_CORRUPT}
    mkdir -m 700 -- "$tmp" || return 1
    if ! (cd -- "$tmp" && payload | tar -xf -); then
        rm -rf -- "$tmp"
        return 1
    fi
    make_links || {{ rm -rf -- "$tmp"; return {_CORRUPT}; }}
    [ -d "$hash" ] || mv -- "$tmp" "$hash" 2>/dev/null
    rm -rf -- "$tmp" "$hash/$tmp" # lost a race: the winner's copy is complete
    [ -d "$hash" ]
}}
try_base() {{
    base=$1 new=
    case $base in /?*) ;; *) return 1 ;; esac
    (umask 077 && mkdir -p -- "${{base%/*}}/") 2>/dev/null
    mkdir -m 700 -- "$base" 2>/dev/null && new=new
    private "$base" "$new" || return 1
    (cd -P -- "$base" 2>/dev/null && private . "$new" && exec_ok && cached_or_unpacked)
}}
tmpdir=${{TMPDIR:-/tmp}}
case $tmpdir in /*) ;; *) tmpdir=/tmp ;; esac
dir=
for base in ${{ELFSHIP_CACHE_DIR:+"$ELFSHIP_CACHE_DIR"}} "$tmpdir/elfship-$uid" \\
    ${{XDG_CACHE_HOME:+"$XDG_CACHE_HOME/elfship"}} ${{HOME:+"$HOME/.cache/elfship"}}; do
    try_base "$base"
    case $? in 0) dir=$base/$hash && break ;; {_CORRUPT}) corrupt ;; esac
done
if [ -z "$dir" ]; then
    echo "elfship launcher: cannot unpack: no writable cache directory on a filesystem that allows exec" \\
        "(fix: set ELFSHIP_CACHE_DIR to such a directory)" >&2
    exit 127
fi
"""


def _make_links(links: list[tuple[str, str]]) -> str:
    calls = "".join(f"    link {sh_quote(path)} {sh_quote(target)} || return 1\n" for path, target in links)
    return "make_links() {\n" + calls + "    :\n}\n"


def sh_self_extracting_stub(
    name: str, setup: LoaderSetup, payload_hash: str, links: list[tuple[str, str]]
) -> bytes:
    """sh stub for a self-extracting file whose tar.gz payload (no symlinks: `links` are made by the stub)
    starts right after it."""
    system_loader = setup.path if setup.path.startswith("/") else ""

    def render(skip: int) -> bytes:
        script = (
            "#!/bin/sh\n"
            "# elfship self-extracting bundle, POSIX sh fallback (no C compiler was found when it was made):\n"
            "# unpacks once with tail, gzip and tar into a private cache directory, then runs the program.\n"
            f"hash={payload_hash}\n"
            f"skip={skip:012d}\n"
            f"program={sh_quote(name)}\n"
            f"system_loader={sh_quote(system_loader)}\n"
            + FIND_SELF
            + _HELPERS
            + _make_links(links)
            + _UNPACK
            + sh_exec(name, setup)
            + "exit 127\n"
        )
        return script.encode("utf-8", "surrogateescape")

    stub = render(0)
    return render(len(stub) + 1)  # tail -c +N counts from 1; the number's width is fixed
