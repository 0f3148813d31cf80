#!/usr/bin/env bash
# Runs Leakscope's main job on the built-in demo editor.
#
# With a display (DISPLAY or WAYLAND_DISPLAY set) it builds the UI and the
# desktop app and opens the app attached to the demo editor. The app serves
# the demo on 127.0.0.1, launches Chromium on its leaky scenario and shows
# the live view. Options for the app: --variant leaky|fixed,
# --flow video|suno|upscale|audio, --interval MS.
#
# Without a display it falls back to the headless recorder (`leakscope
# demo`), says so on stderr, and passes every argument to it (see
# `leakscope demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh

if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  echo "demo: no display (DISPLAY and WAYLAND_DISPLAY are unset), so the desktop app cannot open; running the headless recorder instead" >&2
  cargo build --locked --release --bin leakscope
  exec target/release/leakscope demo "$@"
fi

scripts/build-ui.sh
cargo build --locked --release -p leakscope-desktop --bin leakscope-desktop
exec target/release/leakscope-desktop --demo "$@"
