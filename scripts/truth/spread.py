"""The spread of hxrun's per-request tokens/s against llama-server's own, over repeated runs.

    python3 scripts/truth/spread.py LABEL=report.json [LABEL=report.json ...]

For each run (a `truth.yaml` report) and for all together: requests, the gap
|client − server| / server in percent — median, p95, max — how many are within 1% and 2%, the
signed median (a bias shows there), and how many token counts equal the server's.
"""
import json
import statistics as st
import sys


def rows(path):
    d = json.load(open(path))
    for t in d["suites"][0]["tests"]:
        o = t.get("observation") or {}
        c, s = o.get("client_tokens_per_s"), o.get("server_tokens_per_s")
        if c and s:
            ok = o.get("chunks") == o.get("content_tokens")
            yield (c - s) / s * 100, ok


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(0.95 * len(xs)) - 1))]


def line(label, gaps, counts):
    a = [abs(g) for g in gaps]
    return (
        f"| {label} | {len(a)} | {st.median(a):.2f}% | {p95(a):.2f}% | {max(a):.2f}% | "
        f"{sum(x <= 1 for x in a)} | {sum(x <= 2 for x in a)} | {st.median(gaps):+.2f}% | {sum(counts)} of {len(counts)} |"
    )


print("| run | requests | gap median | gap p95 | gap max | within 1% | within 2% | signed median | token counts equal |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
everything, all_counts = [], []
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    data = list(rows(path))
    gaps, counts = [g for g, _ in data], [k for _, k in data]
    everything += gaps
    all_counts += counts
    print(line(label, gaps, counts))
print(line("**all**", everything, all_counts))
