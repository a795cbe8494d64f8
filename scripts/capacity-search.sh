#!/usr/bin/env bash
# Capacity searches, in real time, against a simulated server whose capacity is known: 4 slots,
# each answer 20 ms to its first token then 8 tokens at 200/s — 60 ms, so 4 / 0.060 = 66.7
# requests/s; arrivals evenly spaced, so below that no request waits and above it the queue
# grows without end. Prints each search's capacity and how many were within 10% of 66.7/s.
#
#   scripts/capacity-search.sh            # 10 searches of 3-second probes (about 10 minutes)
#   RUNS=3 PROBE_FOR=2s scripts/capacity-search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
hxrun=${HXRUN_BIN:-target/release/hxrun}
[ -x "$hxrun" ] || cargo build --release
runs=${RUNS:-10}
probe_for=${PROBE_FOR:-3s}
work=$(mktemp -d)
trap 'kill "$sim" 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$hxrun" sim --port "$port" --capacity 4 --ttft 20ms --tokens-per-s 200 --jitter 0 --load-time 0s \
  --prompt-tokens-per-s 0 >"$work/sim.log" 2>&1 &
sim=$!
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/api/version" >/dev/null 2>&1 && break
  sleep 0.1
done

cat >"$work/search.yaml" <<YAML
suite: capacity
target: { url: "http://127.0.0.1:$port" }
tests:
  - name: capacity
    perf:
      generate: { model: phi3:latest, prompt: hi, stream: true, options: { num_predict: 8 } }
      concurrency: 64
      slo: { ttft: 100ms }
      search: { rate: [8/s, 256/s], attainment: "95%", for: $probe_for, precision: 5% }
YAML

for i in $(seq "$runs"); do
  "$hxrun" "$work/search.yaml" --no-progress --report-dir "$work/run-$i" >"$work/run-$i.log" 2>&1 || true
done

python3 - "$work" "$runs" <<'PY'
import json, os, sys
work, runs = sys.argv[1], int(sys.argv[2])
known = 4 / 0.060
within, found = 0, []
for i in range(1, runs + 1):
    report = json.load(open(os.path.join(work, f"run-{i}", "report.json")))
    o = report["suites"][0]["tests"][0]["observation"]
    s = o["search"]
    c = s.get("capacity")
    e2e = o["levels"][0]["figures"]["e2e.mean"]
    ok = c is not None and abs(c / known - 1) <= 0.10
    within += ok
    found.append(c)
    print(f"search {i}: capacity {c if c is None else round(c, 2)}/s, next probe missed at "
          f"{s.get('missed_at') and round(s['missed_at'], 2)}/s, {len(s['probes'])} probes, "
          f"unloaded e2e {e2e * 1000:.1f} ms{'' if ok else '  (outside 10%)'}")
print(f"{within} of {runs} within 10% of {known:.1f}/s; found {min(f for f in found if f) :.1f}–"
      f"{max(f for f in found if f):.1f}/s")
sys.exit(0 if within * 10 >= runs * 9 else 1)
PY
