#!/usr/bin/env bash
# Runs Leakscope's main job on the built-in demo editor: serves the demo,
# launches Chromium on its leaky scenario, records it and prints the results.
# Extra arguments go to `leakscope demo` (see `leakscope demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh

cargo build --locked --release --bin leakscope
exec target/release/leakscope demo "$@"
