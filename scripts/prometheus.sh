#!/usr/bin/env bash
# hxrun and real Prometheus servers (Debian's prometheus and prometheus-pushgateway, started on
# free loopback ports, stopped on exit):
# 1. `hxrun monitor --listen` serves scripted GPU readings (HXRUN_GPU_FAKE) in dcgm-exporter's
#    names; promtool parses the exposition (its only remarks may be dcgm-exporter's own
#    camelCase label names, kept on purpose); Prometheus scrapes it and its HTTP API returns
#    the readings.
# 2. A run (examples/remote-gpu.yaml against the simulator) reads its GPUs from that endpoint,
#    writes --metrics-file (promtool: no remarks) and --pushes to the Pushgateway; Prometheus,
#    scraping the gateway, returns the run's TTFT p95 as the file has it.
# Usage: scripts/prometheus.sh HXRUN_BIN WORKDIR
set -euo pipefail
hxrun=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
cat >"$work/gpus.yaml" <<'YAML'
driver_version: "575.57.08"
gpus:
  - { name: 'NVIDIA "H200" \ NVL', memory_total_mib: 143771 }
  - { name: NVIDIA H200, memory_total_mib: 143771 }
readings:
  - - { util_pct: 97, mem_used_mib: 9100, power_w: 412.5, temp_c: 71, sm_clock_mhz: 1980 }
    - { util_pct: 3, mem_used_mib: 512, power_w: 88, temp_c: 35, sm_clock_mhz: 345, throttle: [GPU_IDLE] }
YAML
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
HXRUN_GPU_FAKE="$work/gpus.yaml" "$hxrun" monitor --listen 127.0.0.1:0 --interval 200ms 2>"$work/monitor.err" &
pids+=($!)
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'http://[^ ]*/metrics' "$work/monitor.err" || true)
  [ -n "$url" ] && curl -sf "$url" | grep -q DCGM_FI_DEV_GPU_UTIL && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/monitor.err"; echo "monitor did not start"; exit 1; }
curl -sf "$url" >"$work/metrics.txt"
# promtool: the text parses; remarks other than the camelCase label names fail the check.
promtool check metrics <"$work/metrics.txt" >"$work/promtool.txt" 2>&1 || true
if grep -v "label names should be written in 'snake_case' not 'camelCase'" "$work/promtool.txt" | grep -q .; then
  cat "$work/promtool.txt"
  exit 1
fi
# A Pushgateway, and a real Prometheus scraping the monitor and the gateway.
gateway_port=$(free_port)
# Its own empty store: Debian's build keeps earlier pushes in /var/lib/prometheus by default.
prometheus-pushgateway --web.listen-address="127.0.0.1:$gateway_port" \
  --persistence.file="$work/pushgateway.data" >"$work/pushgateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$gateway_port/-/ready" >/dev/null && break
  sleep 0.1
done
port=$(free_port)
target=${url#http://}
target=${target%/metrics}
cat >"$work/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: hxrun-monitor
    static_configs: [{ targets: ["$target"] }]
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{ targets: ["127.0.0.1:$gateway_port"] }]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
query() { curl -sf "http://127.0.0.1:$port/api/v1/query" --data-urlencode "query=$1" || true; }
for _ in $(seq 1 60); do
  out=$(query 'DCGM_FI_DEV_FB_USED{gpu="0"}')
  echo "$out" | grep -q '"9100"' && break
  sleep 0.5
done
echo "$out" | grep -q '"9100"' || { tail -20 "$work/prometheus.log"; echo "Prometheus never read the monitor: $out"; exit 1; }
# Labels as dcgm-exporter's, the name with its quote and backslash intact.
query 'DCGM_FI_DEV_POWER_USAGE{device="nvidia0",DCGM_FI_DRIVER_VERSION="575.57.08"}' | grep -q '"412.5"'
query 'count(DCGM_FI_DEV_GPU_UTIL)' | grep -q '"2"'
query 'DCGM_FI_DEV_GPU_TEMP{gpu="0"}' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"][0]; assert r["metric"]["modelName"] == "NVIDIA \"H200\" \\ NVL", r; assert r["value"][1] == "71", r'
query 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{gpu="1"}' | grep -q '"1"'
echo "prometheus: scraped hxrun monitor --listen (2 GPUs, dcgm-exporter names) and returned its readings"

# A run on a machine without GPUs reads them from the monitor, writes its metrics and pushes them.
HXRUN_GPU_FAKE=none HXRUN_GPU_METRICS_URL="$url" "$hxrun" examples/remote-gpu.yaml --sim --no-progress \
  --report-dir "$work/run" --metrics-file "$work/hxrun.prom" --push "http://127.0.0.1:$gateway_port" \
  >"$work/run.log" 2>&1 || { cat "$work/run.log"; echo "the remote-GPU run failed"; exit 1; }
python3 - "$work/run/report.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
perf = run["suites"][0]["tests"][2]["observation"]["levels"][0]["figures"]
want = (9100 + 512) * 1024 * 1024
assert perf["gpu.memory_used.max"] == want, (perf["gpu.memory_used.max"], want)
PY
promtool check metrics <"$work/hxrun.prom" >"$work/promtool-run.txt" 2>&1 || true
if [ -s "$work/promtool-run.txt" ]; then cat "$work/promtool-run.txt"; exit 1; fi
series='hxrun_ttft_seconds{job="hxrun",test="throughput with the GPUs watched",stat="p95"}'
# Prometheus scrapes the gateway every second: the pushed value, within 30 s.
same() {
  python3 - "$work/hxrun.prom" "$1" <<'PY'
import json, sys
line = next(l for l in open(sys.argv[1]) if l.startswith("hxrun_ttft_seconds{") and 'test="throughput with the GPUs watched"' in l and 'stat="p95"' in l)
written = float(line.rsplit(" ", 1)[1])
result = json.loads(sys.argv[2] or "{}").get("data", {}).get("result", [])
if not result or abs(float(result[0]["value"][1]) - written) > 1e-9 * max(abs(written), 1):
    sys.exit(f"Prometheus has {result} for the pushed TTFT p95, the run wrote {written}")
print(f"prometheus: the pushed run's TTFT p95 ({written:.6f} s) read back through the Pushgateway; GPU figures from the monitor's endpoint")
PY
}
for _ in $(seq 1 60); do
  out=$(query "$series")
  same "$out" >/dev/null 2>&1 && break
  sleep 0.5
done
same "$out"
