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
