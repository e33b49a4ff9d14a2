"""When cargo fails: match its output against the classic failures and say the cause and the fix.

Each known failure is one data entry. Patterns cover both linkers a Rust build meets today: GNU ld
("cannot find -lpq", "undefined reference to `x'") and lld, which rustc uses by default on x86_64 Linux since
1.90 ("unable to find library -lpq", "undefined symbol: x"), plus zig's and rustc's own wording.
"""

from __future__ import annotations

import functools
import re

from elfship.record import record

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
GLIBC_LIBS = r"(?:c|m|pthread|dl|rt|util|resolv)"
# "the linker cannot find library X", in the words of ld, lld, zig and rustc.
_NOT_FOUND = (
    r"(?:cannot find -l|unable to find library -l|could not find native static library `"
    r"|(?i:unable to find (?:dynamic |static )?system library )['\"]|library not found for -l)"
)
# What libpq.a leaves undefined when linked alone: OpenSSL, GSSAPI/Kerberos, LDAP, libpgcommon/libpgport (pg_*).
_LIBPQ_DEPENDENCY = (
    r"(?:SSL|ERR|EVP|X509|BIO|OPENSSL|CRYPTO|TLS|RAND|PEM|DH|RSA|HMAC|d2i|i2d|gss|krb5|ldap|pg)_\w+"
)


@record
class KnownFailure:
    id: str
    pattern: str  # a regular expression (MULTILINE); compiled on first use, since most builds never fail
    cause: str  # may use the pattern's named groups: {lib}, {tool}, {target}, {symbol}, {crate}
    fix: str

    @property
    def regex(self) -> re.Pattern[str]:
        return _compiled(self.pattern)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.MULTILINE)


@record
class Diagnosis:
    id: str
    cause: str
    fix: str
    evidence: str  # the line of cargo's output that matched


KNOWN_FAILURES: tuple[KnownFailure, ...] = (
    KnownFailure(
        "musl-std-missing",
        (r"the `(?P<target>[\w.-]*musl[\w.-]*)` target may not be installed"),
        "the Rust standard library for {target} is not installed",
        "elfship build --strategy musl --build-std (builds it from source), or rustup target add {target}",
    ),
    KnownFailure(
        "target-std-missing",
        (r"the `(?P<target>(?![\w.-]*musl)[\w.-]+)` target may not be installed"),
        "the Rust standard library for {target} is not installed",
        "rustup target add {target}",
    ),
    KnownFailure(
        "proc-macro-crt-static",
        (
            r"cannot produce proc-macro for `(?P<crate>[^`]+)` as the target `(?P<target>[^`]+)` does not support"
        ),
        "+crt-static reached the proc-macro {crate}: RUSTFLAGS apply to host crates when cargo runs without "
        "--target, and a static target cannot produce the shared library a proc-macro is",
        "build with an explicit --target (elfship build does), or move the flag from RUSTFLAGS to "
        "CARGO_TARGET_{TARGET}_RUSTFLAGS",
    ),
    KnownFailure(
        "libpq-link-order",
        (
            rf"libpq\.a\([^)]*\)[^\n]*\n?[^\n]*undefined reference to `(?P<symbol>{_LIBPQ_DEPENDENCY})'"
            rf"|undefined symbol: (?P<symbol2>{_LIBPQ_DEPENDENCY})\s*(?:>>>[^\n]*\n\s*){{0,4}}>>>[^\n]*libpq\.a"
        ),
        "the system libpq.a was linked statically, but what it needs (OpenSSL, GSSAPI, libpgcommon, "
        "libpgport, ...) was not linked after it, so {symbol} stays undefined",
        'enable pq-sys\'s `bundled` feature (pq-sys 0.5+; since 0.6 add openssl-sys = {{ version = "0.9", '
        'features = ["vendored"] }}), which builds libpq with exactly what it needs',
    ),
    KnownFailure(
        "libpq-missing",
        (rf"{_NOT_FOUND}(?P<lib>pq)\b"),
        "libpq is not available to the linker (no libpq.a for a static build, or no libpq at all)",
        "enable pq-sys's `bundled` feature (0.5 or later; since 0.6 also openssl-sys with `vendored`), "
        "or install libpq-dev",
    ),
    KnownFailure(
        "openssl-lib-missing",
        (rf"{_NOT_FOUND}(?P<lib>ssl|crypto)\b"),
        "OpenSSL's lib{lib} is not available to the linker (no static library for this target)",
        "enable openssl's `vendored` feature, or switch to rustls; or install libssl-dev",
    ),
    KnownFailure(
        "zig-crt-static",
        (rf"{_NOT_FOUND}(?P<lib>gcc_eh)\b"),
        "zig was the linker for a +crt-static glibc build: zig cannot link glibc statically (libgcc_eh)",
        "use --strategy glibc-static (links with gcc) or --strategy musl; glibc-pinned builds stay dynamic",
    ),
    KnownFailure(
        "glibc-static-libs-missing",
        (rf"{_NOT_FOUND}(?P<lib>{GLIBC_LIBS})\b"),
        "glibc's static libraries are missing: lib{lib}.a is needed to link with +crt-static",
        "apt-get install libc6-dev (Fedora: dnf install glibc-static), or use --strategy glibc-pinned",
    ),
    KnownFailure(
        "native-lib-missing",
        (rf"{_NOT_FOUND}(?!(?:pq|ssl|crypto|gcc_eh|{GLIBC_LIBS})\b)(?P<lib>[\w.+-]+)"),
        "the linker cannot find lib{lib} for this target",
        "install the package with lib{lib}.a, or enable the -sys crate's bundled/vendored/static feature",
    ),
    KnownFailure(
        "openssl-not-found",
        (
            r"Could not find directory of OpenSSL installation|OpenSSL (?:include|library) directory does not exist"
        ),
        "openssl-sys found no OpenSSL for this target (no pkg-config answer, or OPENSSL_DIR points nowhere)",
        "enable openssl's `vendored` feature (builds OpenSSL from source for the target), or install "
        "libssl-dev and pkg-config; or switch to rustls",
    ),
    KnownFailure(
        "pkg-config-cross",
        (r"pkg-config has not been configured to support cross-compilation"),
        "a -sys crate asked pkg-config for a library while cross-compiling; pkg-config only knows this "
        "machine's (glibc) libraries",
        "enable the crate's bundled/vendored feature; or point PKG_CONFIG_SYSROOT_DIR and PKG_CONFIG_PATH at "
        "a sysroot for the target and set PKG_CONFIG_ALLOW_CROSS=1",
    ),
    KnownFailure(
        "c-compiler-missing",
        (r"failed to find tool \"(?P<tool>[^\"]+)\"|is `(?P<tool2>[^`]+)` not installed\?"),
        "the C compiler {tool} is not installed (a -sys crate compiles C code for the target)",
        "apt-get install musl-tools (for musl-gcc) or gcc, or pip install ziglang; or set CC_<target>",
    ),
    KnownFailure(
        "linker-missing",
        (r"linker `(?P<tool>[^`]+)` not found"),
        "the linker {tool} is not installed",
        "apt-get install gcc (or set CARGO_TARGET_<TRIPLE>_LINKER)",
    ),
    KnownFailure(
        "glibc-symbols-in-musl",
        (
            r"undefined (?:reference to `|symbol: )"
            r"(?P<symbol>__\w+_chk|__isoc(?:99|23)_\w+|gnu_get_libc_\w+|__libc_\w+|__fdelt_warn|__memcpy_chk)"
        ),
        "C code compiled against glibc's headers (e.g. a system static library, or C built with gcc instead "
        "of the target's compiler) was linked into a binary whose libc lacks {symbol} (musl, or an older "
        "glibc pin)",
        "build the C dependency from source for the target: enable the crate's bundled/vendored feature; "
        "elfship sets CC_<target> to musl-gcc or zig so the C code sees the right headers",
    ),
)


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


def diagnose(output: str) -> tuple[Diagnosis, ...]:
    """Every known failure found in cargo's output, in table order, each once."""
    text = strip_ansi(output)
    found = []
    for entry in KNOWN_FAILURES:
        match = entry.regex.search(text)
        if match is None:
            continue
        groups = _groups(match)
        found.append(
            Diagnosis(
                id=entry.id,
                cause=entry.cause.format_map(groups),
                fix=entry.fix.format_map(groups),
                evidence=_line_of(text, match.start()),
            )
        )
    return tuple(found)


def _groups(match: re.Match[str]) -> dict[str, str]:
    """Named groups, with `name2` alternatives folded into `name` (a regex cannot reuse a group name)."""
    groups: dict[str, str] = {}
    for name, value in match.groupdict().items():
        if value is not None:
            groups.setdefault(name.rstrip("0123456789"), value)
    groups.setdefault("target", "<target>")
    groups["TARGET"] = groups["target"].upper().replace("-", "_")
    return _Defaulting(groups)


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


def _line_of(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start : end if end != -1 else len(text)].strip()[:300]
