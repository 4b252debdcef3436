#!/usr/bin/env bash
# Build valuetask and run every test suite (unit, stress, headers).
# Installs meson, ninja, pkg-config and libck-dev first when they are missing.
# Usage: scripts/test.sh [build-dir]   (default: build-test)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

dir=${1:-build-test}
if [[ -d $dir ]]; then
	meson setup --reconfigure "$dir" --werror -Dbenchmarks=false >/dev/null
else
	meson setup "$dir" --werror -Dbenchmarks=false
fi
meson compile -C "$dir"
meson test -C "$dir" --print-errorlogs --num-processes 2
