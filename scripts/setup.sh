#!/usr/bin/env bash
# Install everything elfship's tests need on a fresh Debian/Ubuntu machine, then elfship itself (editable).
# Idempotent: a second run only checks. Needs root for apt (skipped with a note when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  gcc g++ make binutils        # fixtures: C/C++ programs built at test time
  debootstrap                  # real Debian 11/12/13 minbase roots as ground truth
  libpq-dev libssl-dev         # fixtures needing libpq.so.5 / libssl.so.3
  postgresql openssl           # build e2e: a real server the static app connects to; openssl: its test CA (TLS)
  musl musl-tools              # a musl loader for musl-dynamic fixtures and bundles; musl-gcc
  rustc-web cargo-web rust-web-src libunwind-22-dev  # build --build-std: musl std from source (bookworm-security)
  libtree pax-utils            # reference resolvers compared against in tests and benchmarks
  bubblewrap                   # check --run: the sandbox (bwrap) the program is started in
  qemu-user-static             # aarch64: check --run through qemu-aarch64; the arm64 root's debootstrap stage two
  patchelf file hyperfine
  busybox                      # bundle tests: the sh self-extracting stub under busybox's sh, ls, tar, gzip
  zlib1g-dev libsqlite3-dev golang-go  # sbom fixtures: programs linked against libz.a, libsqlite3.a; Go
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  [[ $pkg == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: not root, cannot install: ${missing[*]} (tests that need them will skip, naming them)" >&2
  fi
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v "Running pip as the 'root' user" || true
# sbom/audit fixtures and `elfship build` record their crate list (.dep-v0) through cargo-auditable.
if command -v cargo >/dev/null && ! cargo auditable --version >/dev/null 2>&1; then
  echo "setup: cargo install cargo-auditable" >&2
  cargo install --quiet --locked cargo-auditable
fi

echo "setup: done ($(python3 -m elfship --version))" >&2
