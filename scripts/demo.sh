#!/usr/bin/env bash
# The founding story on this machine: build a program that uses pow() and libpq, then ask elfship whether it
# runs on older and barer servers. Sets up what it needs first (scripts/setup.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo; echo "\$ gcc examples/story.c -lpq -lm -o app      # built on this workstation"
gcc -I/usr/include/postgresql examples/story.c -lpq -lm -o "$out/app" || exit 2

echo; echo "\$ elfship inspect app"
python3 -m elfship inspect "$out/app"

echo; echo "\$ elfship check app --target debian:10 --target debian:11 --target rhel:8 --target alpine:3.19"
python3 -m elfship check "$out/app" --target debian:10 --target debian:11 --target rhel:8 --target alpine:3.19

echo; echo "\$ zig cc -target x86_64-linux-gnu.2.28 ... -o app-pinned   # the fix for glibc: pin it"
python3 -m ziglang cc -target x86_64-linux-gnu.2.28 -I/usr/include/postgresql examples/story.c \
  -L/usr/lib/x86_64-linux-gnu -lpq -lm -o "$out/app-pinned" || exit 2
echo; echo "\$ elfship check app-pinned --target debian:10 --target debian:11"
python3 -m elfship check "$out/app-pinned" --target debian:10 --target debian:11
echo
echo "What is left is libpq.so.5: install it there (the check says how), build it in statically"
echo "(Rust: elfship build), or ship it along: elfship bundle app."
exit 0
