#!/usr/bin/env bash
# `hxrun monitor --listen` read by a real Prometheus: the monitor serves scripted GPU readings
# (HXRUN_GPU_FAKE) in dcgm-exporter's names; promtool parses the exposition (its only remarks
# may be dcgm-exporter's own camelCase label names, kept on purpose); a Prometheus started on
# a free loopback port scrapes it, and its HTTP API must return the readings.
# Usage: scripts/prometheus-monitor.sh HXRUN_BIN WORKDIR
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
  - - { util_pct: 97, mem_used_mib: 9100, power_w: 412.5, temp_c: 71, sm_clock_mhz: 1980, throttle: [SW_POWER_CAP] }
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
# A real Prometheus scrapes the monitor.
port=$(free_port)
target=${url#http://}
target=${target%/metrics}
cat >"$work/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: hxrun-monitor
    static_configs: [{ targets: ["$target"] }]
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
query 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{gpu="0"}' | grep -q '"4"'
echo "prometheus: scraped hxrun monitor --listen (2 GPUs, dcgm-exporter names) and returned its readings"
