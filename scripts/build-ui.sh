#!/usr/bin/env bash
# Builds the desktop app's front end (ui/) into ui/dist/, which the Tauri
# shell embeds.
#
#   scripts/build-ui.sh          npm ci when needed, then type-check and build
#   scripts/build-ui.sh --test   the same, then the Vitest unit tests
#
# `npm ci` runs when ui/node_modules is missing or older than
# ui/package-lock.json, so a changed lockfile always reinstalls. The build
# needs Node.js 20.19 or newer (Vite 8's minimum).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ui="$root/ui"
run_tests=false

for arg in "$@"; do
  case "$arg" in
    --test) run_tests=true ;;
    -h | --help)
      sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "build-ui.sh: unknown argument '$arg'; the only option is --test" >&2
      exit 2
      ;;
  esac
done

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "build-ui.sh: node or npm not found; install Node.js 20.19 or newer with npm" >&2
  exit 1
fi

node_version="$(node --version)"
if ! node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1);
'; then
  echo "build-ui.sh: Node.js $node_version is too old; Vite 8 needs 20.19 or newer" >&2
  exit 1
fi

cd "$ui"

# npm ci writes node_modules/.package-lock.json, so its modification time is
# the time of the last install.
installed="node_modules/.package-lock.json"
if [[ ! -f "$installed" || package-lock.json -nt "$installed" ]]; then
  echo "build-ui.sh: installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

npm run build

if [[ "$run_tests" == true ]]; then
  npm test
fi
