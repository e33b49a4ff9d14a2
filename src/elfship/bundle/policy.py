"""What a bundle never carries, and what it carries as one piece: data, documented in docs/bundle.md."""

from __future__ import annotations

import fnmatch

from elfship.abi import GLIBC_LINKED_PARTS
from elfship.record import record


@record
class ExcludeRule:
    pattern: str  # shell-style pattern matched against a library's soname (its DT_NEEDED name)
    why: str


_GPU = "GPU stack: must match the host's graphics driver and kernel module"
_DISPLAY = "display stack: speaks the host's display server protocol and loads the host's drivers"
_AUDIO = "audio stack: must match the host's sound server and its plugins"

# Libraries that must come from the host the program runs on. A copy from the build machine would load, then
# fail against the host's driver, server or kernel module; leaving them out lets the host's own copy load.
DEFAULT_EXCLUDES: tuple[ExcludeRule, ...] = (
    ExcludeRule("libGL.so*", _GPU),
    ExcludeRule("libEGL.so*", _GPU),
    ExcludeRule("libGLX.so*", _GPU),
    ExcludeRule("libGLX_*.so*", _GPU),
    ExcludeRule("libGLdispatch.so*", _GPU),
    ExcludeRule("libGLESv1_CM.so*", _GPU),
    ExcludeRule("libGLESv2.so*", _GPU),
    ExcludeRule("libOpenGL.so*", _GPU),
    ExcludeRule("libvulkan.so*", _GPU),
    ExcludeRule("libdrm.so*", _GPU),
    ExcludeRule("libdrm_*.so*", _GPU),
    ExcludeRule("libgbm.so*", _GPU),
    ExcludeRule("libcuda.so*", _GPU),
    ExcludeRule("libnvidia-*.so*", _GPU),
    ExcludeRule("libX11.so*", _DISPLAY),
    ExcludeRule("libX11-xcb.so*", _DISPLAY),
    ExcludeRule("libxcb.so*", _DISPLAY),
    ExcludeRule("libxcb-*.so*", _DISPLAY),
    ExcludeRule("libwayland-*.so*", _DISPLAY),
    ExcludeRule("libasound.so*", _AUDIO),
    ExcludeRule("libpulse.so*", _AUDIO),
    ExcludeRule("libpulse-*.so*", _AUDIO),
    ExcludeRule("libjack.so*", _AUDIO),
    ExcludeRule("libjackserver.so*", _AUDIO),
)

# glibc is bundled all or nothing: its parts call each other through private GLIBC_PRIVATE symbols that change
# with every release, so a libm or libpthread from the target next to the bundled libc breaks at load time.
# Every part found next to the bundled libc.so.6 goes in, whether the program names it or not (dlopen)...
GLIBC_CORE = ("libc.so.6",)
GLIBC_PARTS = GLIBC_LINKED_PARTS
# ...except these, only when something in the bundle links them (DT_NEEDED) or names them as a whole string
# (dlopen("libm.so.6")): they are the large parts (libm and libmvec are 1.9 MB of a bundle's files, a tenth of
# the libpq program's .run), glibc itself never dlopens them, and a program that builds the name at run time
# passes it with --add. The compatibility parts (libpthread, libdl, ...:
# empty since glibc 2.34, 2.5 KB of a .run together) stay: old code still dlopens them.
GLIBC_WHEN_LINKED = frozenset({"libm.so.6", "libmvec.so.1", "libresolv.so.2"})
# Name-service modules glibc dlopens for getpwnam, getaddrinfo and friends (nsswitch.conf "files", "dns";
# "compat" for older nsswitch.conf files). Since glibc 2.34 files and dns live in libc itself and these are
# stubs, but a bundled older glibc needs the real ones.
GLIBC_NSS = ("libnss_files.so.2", "libnss_dns.so.2", "libnss_compat.so.2")
# Undefined symbols that mean the program converts character sets with iconv, so glibc will dlopen gconv modules.
ICONV_SYMBOLS = frozenset({"iconv_open", "iconv", "iconv_close"})
# `--with-gconv minimal` (the default): the gconv modules glibc's own core configuration names (since glibc 2.35
# `gconv-modules` holds these and `gconv-modules.d/gconv-modules-extra.conf` the other ~250, the split Fedora
# ships as glibc-gconv-extra). UTF-8, UCS-2/4, ASCII are built into libc and need no module at all.
GCONV_CHOICES = ("minimal", "all")
GCONV_MINIMAL = frozenset(
    {"ANSI_X3.110", "CP1252", "ISO8859-1", "ISO8859-15", "UNICODE", "UTF-16", "UTF-32", "UTF-7"}
)
GCONV_CONFIG = "gconv-modules"  # read when GCONV_PATH is set (the launcher sets it); the .cache is not


def matching_rule(soname: str, rules: tuple[ExcludeRule, ...]) -> ExcludeRule | None:
    """The first rule whose pattern matches the soname (or the file name of a path-like NEEDED entry)."""
    name = soname.rsplit("/", 1)[-1]
    return next((rule for rule in rules if fnmatch.fnmatchcase(name, rule.pattern)), None)


def is_glibc_part(soname: str) -> bool:
    return soname in GLIBC_PARTS or soname in GLIBC_NSS or soname.startswith("ld-linux")
