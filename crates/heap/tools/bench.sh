#!/usr/bin/env bash
# Runs the heap snapshot benchmarks one case per process, so /usr/bin/time
# reports each case's own peak memory, and memlab on the same files when it
# is installed. Snapshots come from make_snapshot.mjs.
#
#   crates/heap/tools/bench.sh [SNAPSHOT_DIR] [MEMLAB_DIR]
#
# MEMLAB_DIR is a folder where `npm install memlab --ignore-scripts` ran.
set -euo pipefail
dir=${1:-/work/snapshots}
memlab=${2:-}
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
cargo bench -p leakscope-heap --bench parse --no-run 2>&1 | tail -1
bin=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/parse-* | grep -v '\.d$' | head -1)
fmt="  elapsed %e s, user %U s, sys %S s, peak RSS %M KB"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for name in s10 s100a s400; do
  f="$dir/$name.heapsnapshot"
  [ -f "$f" ] || continue
  for _ in 1 2 3; do /usr/bin/time -f "$fmt" "$bin" analyze "$f"; done
done
if [ -f "$dir/s100a.heapsnapshot" ] && [ -f "$dir/s100b.heapsnapshot" ]; then
  for _ in 1 2 3; do /usr/bin/time -f "$fmt" "$bin" diff "$dir/s100a.heapsnapshot" "$dir/s100b.heapsnapshot"; done
fi
if [ -n "$memlab" ]; then
  script=$(mktemp --suffix=.js -p "$memlab")
  # memlab prints its progress lines with an erase-line escape (ESC [K) at the
  # start, which the sed below strips so grep can match the result line.
  cat > "$script" <<'JS'
const {getFullHeapFromFile} = require('@memlab/heap-analysis');
(async () => {
  const t = Date.now();
  const heap = await getFullHeapFromFile(process.argv[2]);
  console.log(`memlab ${process.argv[2]}: ${heap.nodes.length} nodes, ${(Date.now() - t) / 1000} s`);
})();
JS
  for name in s10 s100a s400; do
    f="$dir/$name.heapsnapshot"
    [ -f "$f" ] || continue
    (cd "$memlab" && /usr/bin/time -f "$fmt" node --expose-gc --max-old-space-size=8192 "$script" "$f" 2>&1 | sed 's/\x1b\[K//g' | grep -E "^memlab|elapsed")
  done
  rm -f "$script"
fi
