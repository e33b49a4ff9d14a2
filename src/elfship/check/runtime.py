"""Run-time needs the loader does not see: it starts, but does it work where it lands?

- A statically linked OpenSSL looks for CA certificates under the OPENSSLDIR of the machine that built it
  (rust-musl-builder#21, rust-openssl#829): judged against where the target keeps them (targets/certs.py),
  and in a root against the root's files.
- Sonames named in the program's strings but not in DT_NEEDED: what it may dlopen. The loader never loads
  them before main, so a missing one fails later, at the call.
- A static glibc with iconv loads gconv modules of the target's glibc at run time.
(Static glibc's NSS is check/program.py's static-nss.)

The strings come from sbom/runtime_strings.py, read from the bytes the ELF facts came from: for a program
inside a root, through the root's confined reader, never a host path a symlink may point elsewhere.
"""

from __future__ import annotations

from elfship.abi import GLIBC_LIBRARIES
from elfship.check.model import MAY_DLOPEN, STATIC_GCONV, STATIC_OPENSSL_CA, Finding, Severity
from elfship.elf.model import ElfInfo, Kind, LibcFamily
from elfship.sbom.runtime_strings import RuntimeStrings
from elfship.targets.certs import KNOWN_BUNDLES, ca_locations
from elfship.targets.model import Target

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (start-up time; docs/architecture.md)
if TYPE_CHECKING:
    from elfship.resolve.rootfs import FileView

CA_FIX = (
    "call openssl-probe's init_openssl_env_vars() at start-up (it finds the server's bundle), or set "
    "SSL_CERT_FILE={bundle} in the service's environment, or use rustls with the platform's roots "
    "(rustls-native-certs)"
)
GCONV_FIX = (
    "convert inside the program (Rust: encoding_rs; C: GNU libiconv linked statically), or build with musl "
    "(its iconv is built in), or ship the gconv modules of the same glibc and point GCONV_PATH at them"
)


def runtime_findings(info: ElfInfo, target: Target, strings: RuntimeStrings) -> list[Finding]:
    view = _root_view(target)
    findings: list[Finding] = []
    if strings.openssl_dir is not None:
        findings.append(_openssl_ca(strings, target, view))
    loadable = [s for s in strings.sonames if s not in info.needed and s != info.soname]
    if loadable:
        findings.append(_may_dlopen(loadable, target, view))
    static = info.kind in (Kind.STATIC, Kind.STATIC_PIE)
    if static and info.libc.family is LibcFamily.GLIBC and strings.uses_gconv:
        findings.append(_static_gconv(strings.gconv_dir, target, view))
    return findings


def _root_view(target: Target) -> FileView | None:
    """The root's files, for a root target; a named release is judged from its recorded facts only."""
    if target.kind != "root" or not target.root:
        return None
    from elfship.resolve.rootfs import FileView  # only roots pay for the confined reader

    return FileView(target.root)


def _openssl_ca(strings: RuntimeStrings, target: Target, view: FileView | None) -> Finding:
    directory, cert_file, cert_dir = strings.openssl_dir, strings.openssl_cert_file, strings.openssl_cert_dir
    assert directory is not None and cert_file is not None and cert_dir is not None
    where = f"links OpenSSL statically: it looks for CA certificates in {cert_file} and {cert_dir} (its OPENSSLDIR)"
    if view is not None:
        found = _exists_in(view, cert_file, want_dir=False) or _exists_in(view, cert_dir, want_dir=True)
        bundle = next((b for b in KNOWN_BUNDLES if _exists_in(view, b, want_dir=False)), None)
        there, on = "the root", "in the root"
        absent_bundle = "and the root has no CA bundle at all (" + ", ".join(KNOWN_BUNDLES) + ")"
    else:
        locations = ca_locations(target.family)
        found = bool(locations and {cert_file, cert_dir} & locations.found_by)
        bundle = locations.bundle if locations else None
        there, on = target.display_name, f"on {target.display_name}"
        absent_bundle = f"and where {there} keeps CA certificates is not known"
    evidence = {"openssl_dir": directory, "cert_file": cert_file, "cert_dir": cert_dir, "ca_bundle": bundle}
    if found:
        return Finding.make(
            STATIC_OPENSSL_CA,
            Severity.INFO,
            f"{where}: {there} has them there (with its CA certificates installed)",
            None,
            found=True,
            **evidence,
        )
    keeps = f"{there} keeps them in {bundle}" if bundle else absent_bundle
    fix = CA_FIX.format(bundle=bundle or "/PATH/TO/ca-bundle")
    if bundle is None:
        fix = "install the CA certificates (Debian: ca-certificates), then " + fix
    return Finding.make(
        STATIC_OPENSSL_CA,
        Severity.WARNING,
        f"{where}; neither exists {on} ({keeps}): TLS certificate verification fails there at run time "
        "(the program loads, its TLS connections do not)",
        fix,
        found=False,
        **evidence,
    )


def _exists_in(view: FileView, path: str, *, want_dir: bool) -> bool:
    from elfship.resolve.rootfs import Located

    found = view.locate(path)
    return isinstance(found, Located) and found.is_dir == want_dir


def _presence(target: Target, soname: str) -> bool | None:
    shipped = target.ships_soname(soname)
    if shipped is not None:
        return shipped
    if target.libc == "glibc" and soname in GLIBC_LIBRARIES:
        return True
    return None


def _may_dlopen(sonames: list[str], target: Target, view: FileView | None) -> Finding:
    if view is not None and target.base_sonames is None:
        from elfship.targets.root import ships_in_root

        presence: dict[str, bool | None] = {**ships_in_root(view, sonames)}  # a root without its inventory
    else:
        presence = {soname: _presence(target, soname) for soname in sonames}
    words = {True: "present", False: "absent", None: "not known"}
    named = ", ".join(f"{soname} ({words[present]})" for soname, present in presence.items())
    absent = [soname for soname, present in presence.items() if present is False]
    where = f"on {target.display_name}" if target.kind != "root" else "in the root"
    fix = None
    if absent:
        fix = (
            f"if the program really loads {', '.join(absent)}, install it on the target or ship it along "
            "(`elfship bundle`); if it only names it, nothing to do"
        )
    return Finding.make(
        MAY_DLOPEN,
        Severity.WARNING if absent else Severity.INFO,
        f"names {named} {where}: may be loaded at run time (dlopen); not in DT_NEEDED, so the loader "
        "does not check them before main",
        fix,
        libraries=[{"soname": soname, "present": present} for soname, present in presence.items()],
    )


def _static_gconv(directory: str | None, target: Target, view: FileView | None) -> Finding:
    shown = directory or "its compiled-in gconv directory"
    present: bool | None = None
    if view is not None and directory is not None:
        present = _exists_in(view, f"{directory}/gconv-modules", want_dir=False) or _exists_in(
            view, f"{directory}/gconv-modules.d", want_dir=True
        )
    state = {True: "; the root has them", False: "; the root has none there", None: ""}[present]
    return Finding.make(
        STATIC_GCONV,
        Severity.WARNING,
        f"static glibc with iconv: iconv_open of any charset beyond glibc's built-in ones (UTF-8, UCS-2/4, "
        f"ASCII) loads gconv modules from {shown} at run time, modules of the target's glibc that a static "
        f"program of another glibc version may fail to load{state}",
        GCONV_FIX,
        gconv_dir=directory,
        present=present,
    )
