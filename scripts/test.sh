#!/usr/bin/env bash
# Runs every check and test of Leakscope, installing what is missing first.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh

echo "== format" >&2
cargo fmt --all --check

echo "== desktop UI (build and unit tests)" >&2
# The Tauri build embeds ui/dist, so the UI is built before clippy compiles
# the desktop crate.
scripts/build-ui.sh --test

echo "== lints" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== dependency boundaries" >&2
scripts/check-boundaries.sh

echo "== tests" >&2
cargo test --workspace --locked
