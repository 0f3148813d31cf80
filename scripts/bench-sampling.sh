#!/bin/bash
# Sampling overhead of `leakscope record`: one recorder sampling at 100 ms
# (10 Hz) next to an idle baseline (a recorder sampling every 60 s) on the
# same demo tab, for DUR seconds (default 180). Prints the CPU time
# (utime + stime from /proc/<pid>/stat) of each over the measured window, as a
# share of one core, and each process's VmRSS at the start and the end of it.
set -euo pipefail
L=${LEAKSCOPE_BIN:-target/release/leakscope}
DUR=${DUR:-180}
OUT=$(mktemp -d)
"$L" demo open --headless --variant fixed --flow all >"$OUT/open.log" 2>&1 &
OPEN=$!
for _ in $(seq 1 100); do grep -q "debugging port" "$OUT/open.log" && break; sleep 0.2; done
PORT=$(sed -n 's/.*debugging port: \([0-9]*\).*/\1/p' "$OUT/open.log")
"$L" record --port "$PORT" --tab variant=fixed --interval 100ms --duration "${DUR}s" --out "$OUT/fast" --json >"$OUT/fast.json" 2>"$OUT/fast.err" &
FAST=$!
"$L" record --port "$PORT" --tab variant=fixed --interval 60s --duration "${DUR}s" --out "$OUT/idle" --json >"$OUT/idle.json" 2>"$OUT/idle.err" &
IDLE=$!
# Skip start-up (connect, attach, agent injection), then measure.
sleep 5
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
f0=$(cpu $FAST); i0=$(cpu $IDLE); fr0=$(rss $FAST); ir0=$(rss $IDLE); t0=$(date +%s.%N)
# VmRSS of both recorders once a minute, to tell a plateau from growth.
elapsed=0
while (( elapsed + 60 <= DUR - 10 )); do
  sleep 60
  elapsed=$((elapsed + 60))
  echo "minute $((elapsed / 60)): 10 Hz VmRSS $(rss $FAST) KiB, idle VmRSS $(rss $IDLE) KiB"
done
sleep $((DUR - 10 - elapsed))
f1=$(cpu $FAST); i1=$(cpu $IDLE); fr1=$(rss $FAST); ir1=$(rss $IDLE); t1=$(date +%s.%N)
wait $FAST $IDLE
kill -INT $OPEN
wait $OPEN || true
python3 - <<PY
window = $t1 - $t0
tick = $(getconf CLK_TCK)
for name, c0, c1, r0, r1 in [("10 Hz", $f0, $f1, $fr0, $fr1), ("idle", $i0, $i1, $ir0, $ir1)]:
    seconds = (c1 - c0) / tick
    print(f"{name:6} cpu {seconds:.2f} s in {window:.1f} s = {100 * seconds / window:.2f} % of one core; VmRSS {r0} KiB -> {r1} KiB")
PY
python3 -c "import json; d = json.load(open('$OUT/fast.json')); print('10 Hz recorder:', d['samples'], 'samples,', d['gaps'], 'gaps,', d['undecoded_messages'], 'undecoded, end', d['end_reason'])"
