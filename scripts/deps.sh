#!/usr/bin/env bash
# Install what valuetask needs to build and test, when it is missing.
# Usage: scripts/deps.sh [extra Debian packages...]
# Runs apt-get as root, or through sudo; says so and goes on if it can't.
set -euo pipefail

# libc6-dev by name: the install below skips Recommends, and gcc only
# recommends it, so without it a fresh machine has a compiler but no crt1.o
# or libc headers. spin: the model check of the core's protocol
# (reliability/model/check.sh).
need=(meson ninja-build pkg-config libck-dev gcc libc6-dev spin "$@")
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -eq 0 ]]; then
	sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	sudo=(sudo -n)
else
	echo "deps: missing ${missing[*]}, and neither root nor sudo is available to install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
