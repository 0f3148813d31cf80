#!/usr/bin/env bash
# Fails when the core crates depend on a UI toolkit or the chart library.
# The core (model, session, agent, recorder) must run headless and stay small,
# so tauri, wry and plotters may only appear above it (report crate, app).
# The app's controller (leakscope-app) may use plotters but not tauri or wry.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
for crate in leakscope-model leakscope-core leakscope-heap; do
  for forbidden in tauri wry plotters; do
    # `cargo tree -i X` prints the paths to X; it fails with "did not match"
    # when X is not in the tree at all, which is what we want.
    if output=$(cargo tree --locked -e normal -p "$crate" -i "$forbidden" 2>/dev/null) && [[ -n "$output" ]]; then
      echo "error: $crate depends on $forbidden:" >&2
      echo "$output" >&2
      status=1
    fi
  done
done
# The app's controller is tested without a webview, so it must not pull in
# the UI toolkit. It may draw charts through the report crate (plotters).
for forbidden in tauri wry; do
  if output=$(cargo tree --locked -e normal -p leakscope-app -i "$forbidden" 2>/dev/null) && [[ -n "$output" ]]; then
    echo "error: leakscope-app depends on $forbidden:" >&2
    echo "$output" >&2
    status=1
  fi
done
if [[ $status -eq 0 ]]; then
  echo "boundaries ok: leakscope-model, leakscope-core and leakscope-heap use no tauri, wry or plotters; leakscope-app uses no tauri or wry" >&2
fi
exit $status
