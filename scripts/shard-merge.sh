#!/usr/bin/env bash
# The sharded run as a CI matrix would do it, on one machine: one simulator, three processes at
# once each running its shard of phase6 (--shard K/3), then `hxrun merge` of their folders.
# The merged run must hold every test of an unsharded run exactly once.
#   scripts/shard-merge.sh [HXRUN] [OUT_DIR]
set -euo pipefail
bin=${1:-target/debug/hxrun}
out=${2:-target/shard-merge}
rm -rf "$out"
mkdir -p "$out"
port_file="$out/sim.log"
"$bin" sim --port 0 >"$port_file" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$port_file" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$port_file" | head -1)
pids=()
for k in 1 2 3; do
  "$bin" suites/phase6.yaml --target "$url" --shard "$k/3" --no-progress --report-dir "$out/shard-$k" \
    >"$out/shard-$k.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || test $? -eq 1; done
"$bin" suites/phase6.yaml --target "$url" --no-progress --report-dir "$out/whole" >"$out/whole.log" 2>&1 || test $? -eq 1
"$bin" merge "$out/shard-*" -o "$out/merged" >"$out/merge.log" 2>&1 || test $? -eq 1
cases() { grep -o '<testcase name="[^"]*" classname="[^"]*"' "$1" | sort; }
if ! diff <(cases "$out/whole/junit.xml") <(cases "$out/merged/junit.xml") >"$out/diff.txt"; then
  echo "the merged shards differ from the whole run:" >&2
  cat "$out/diff.txt" >&2
  exit 1
fi
echo "shards merged: $(cases "$out/merged/junit.xml" | wc -l) test cases, the same as the whole run"
