import json, statistics as st, sys
rows = []
for path in sys.argv[1:]:
    d = json.load(open(path))
    for t in d['suites'][0]['tests']:
        o = t['observation']; sv = o['server']
        n = int(t['name'].rsplit('/', 1)[1])
        rows.append(dict(limit=n, dr=sv.get('done_reason'), chunks=o['chunks'], out=o.get('output_tokens'),
                         ct=o.get('content_tokens'), eos=o.get('eos_counted', False), c=o.get('client_tokens_per_s'),
                         s=o.get('server_tokens_per_s'), pn=sv.get('eval_count'), pms=(sv.get('eval_duration_ns') or 0) / 1e6,
                         comp=sv.get('completion_tokens'), passed=t['status'] == 'passed'))
print('| num_predict | requests | stopped on its own (EOS counted) | chunks = server count − EOS | client vs server tokens/s: median, range | old definition on EOS answers | n / predicted_ms vs the server\'s own |')
print('|---|---|---|---|---|---|---|')
for lim in sorted({r['limit'] for r in rows}):
    rs = [r for r in rows if r['limit'] == lim]
    d = [(r['c'] - r['s']) / r['s'] * 100 for r in rs if r['c'] and r['s']]
    eq = sum(1 for r in rs if r['chunks'] == r['ct'] and r['ct'] == (r['out'] - (1 if r['eos'] else 0)))
    eos = [r for r in rs if r['eos']]
    stop = sum(1 for r in rs if r['dr'] == 'stop')
    old = [((r['c'] * (r['out'] - 1) / (r['ct'] - 1)) - r['s']) / r['s'] * 100 for r in eos if r['ct'] > 1]
    naive = [((r['pn'] / (r['pms'] / 1e3)) / r['s'] - 1) * 100 for r in rs if r['pms'] and r['s']]
    olds = f"+{st.median(old):.1f}% (+{min(old):.1f}..+{max(old):.1f}%)" if old else "—"
    print(f"| {lim} | {len(rs)} | {stop} ({len(eos)}) | {eq} of {len(rs)} | {st.median(d):+.2f}% ({min(d):+.2f}..{max(d):+.2f}%) | {olds} | +{st.median(naive):.1f}% |")
d = [abs(r['c'] - r['s']) / r['s'] * 100 for r in rows if r['c'] and r['s']]
print(f"\nall {len(rows)} requests: |client − server| median {st.median(d):.2f}%, {sum(1 for x in d if x <= 1)} of {len(d)} within 1%")
