#!/usr/bin/env bash
# Installs what Leakscope needs to build and run on Debian/Ubuntu, and nothing
# when it is already there. Sourced by scripts/demo.sh and scripts/test.sh.
#
# System packages come from apt (with sudo when not root). The Rust toolchain
# must already be installed (https://rustup.rs); this script only checks it.

set -euo pipefail

# Debian packages and a file each one installs, so a present package costs no
# apt call. chromium: the browser under test. xvfb: a display for headed runs.
# nodejs and npm: the tests install a local React build from tests/pages.
LEAKSCOPE_PACKAGES=(
  "chromium:/usr/bin/chromium"
  "nodejs:/usr/bin/node"
  "npm:/usr/bin/npm"
  "xvfb:/usr/bin/Xvfb"
  "pkg-config:/usr/bin/pkg-config"
  "build-essential:/usr/bin/gcc"
  # The desktop app (Tauri 2 on WebKitGTK 4.1) builds against these, found
  # through pkg-config. xauth lets xvfb-run give the app's display a cookie.
  "libwebkit2gtk-4.1-dev:/usr/lib/x86_64-linux-gnu/pkgconfig/webkit2gtk-4.1.pc"
  "libjavascriptcoregtk-4.1-dev:/usr/lib/x86_64-linux-gnu/pkgconfig/javascriptcoregtk-4.1.pc"
  "libsoup-3.0-dev:/usr/lib/x86_64-linux-gnu/pkgconfig/libsoup-3.0.pc"
  "libgtk-3-dev:/usr/lib/x86_64-linux-gnu/pkgconfig/gtk+-3.0.pc"
  "librsvg2-dev:/usr/lib/x86_64-linux-gnu/pkgconfig/librsvg-2.0.pc"
  "xauth:/usr/bin/xauth"
)

ensure_packages() {
  local missing=()
  local entry
  for entry in "${LEAKSCOPE_PACKAGES[@]}"; do
    local package="${entry%%:*}" marker="${entry#*:}"
    [[ -e "$marker" ]] || missing+=("$package")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  echo "leakscope: installing missing packages: ${missing[*]}" >&2
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
      echo "error: packages ${missing[*]} are missing and sudo is not available; install them as root" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "error: cargo not found; install Rust 1.85 or newer with rustup (https://rustup.rs) and run this again" >&2
      return 1
    fi
  fi
}

ensure_packages
ensure_rust

# ---- Desktop app end-to-end tests ------------------------------------------
# The app tests (src-tauri/tests/e2e.rs) drive the real app through WebDriver:
# tauri-driver (from crates.io) in front of WebKitGTK's WebKitWebDriver
# (Debian's webkit2gtk-driver), on an Xvfb display the tests start themselves.

# Version range of tauri-driver that matches Tauri 2.
TAURI_DRIVER_VERSION="^2.1"

ensure_app_test_tools() {
  # A local copy of the list: ensure_packages sees it through bash's dynamic
  # scoping, and the list of the other blocks stays as it was.
  local LEAKSCOPE_PACKAGES=("webkit2gtk-driver:/usr/bin/WebKitWebDriver")
  ensure_packages
  if ! command -v tauri-driver >/dev/null; then
    if [[ -x "$HOME/.cargo/bin/tauri-driver" ]]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "leakscope: installing tauri-driver $TAURI_DRIVER_VERSION with cargo install" >&2
      cargo install tauri-driver --locked --version "$TAURI_DRIVER_VERSION"
      export PATH="$HOME/.cargo/bin:$PATH"
    fi
  fi
}

ensure_app_test_tools
