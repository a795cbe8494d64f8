"""Per request: hxrun's client tokens/s against the packets on the wire, and the wire against
the server's own figure."""
import struct, json, statistics as st
import sys
# usage: wire.py CAPTURE.pcap REPORT.json PORT — hxrun's and the server's tokens/s against the
# times the chunks' packets crossed the loopback (tcpdump -i lo -w CAPTURE.pcap 'tcp port PORT').
cap, report, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(cap,'rb').read()
magic = struct.unpack('<I', data[:4])[0]
nano = magic == 0xa1b23c4d
link = struct.unpack('<I', data[20:24])[0]
off = 24; pkts = []
while off + 16 <= len(data):
    ts, tf, incl, orig = struct.unpack('<IIII', data[off:off+16]); off += 16
    frame = data[off:off+incl]; off += incl
    t = ts + tf / (1e9 if nano else 1e6)
    eth = 14 if link == 1 else 16
    ip = frame[eth:]
    ihl = (ip[0] & 15) * 4
    tcp = ip[ihl:]
    sport, dport = struct.unpack('>HH', tcp[:4])
    doff = (tcp[12] >> 4) * 4
    payload = tcp[doff:]
    if payload:
        pkts.append((t, sport, dport, payload))
# Responses: server->client payloads (sport port). Split by client requests (dport port with POST).
responses = []; open_by_port = {}
for t, sp, dp, pl in pkts:
    if dp == port and pl.startswith(b'POST'):
        cur = []; responses.append(cur); open_by_port[sp] = cur
    elif sp == port and dp in open_by_port:
        open_by_port[dp].append((t, pl))
responses = [r for r in responses if any(b'HTTP/1.1 200' in pl for _, pl in r)]
d = json.load(open(report))
tests = d['suites'][0]['tests']
print(len(responses), 'responses,', len(tests), 'tests')
rows = []
for resp, t in zip(responses, tests):
    times = []
    for ts, pl in resp:
        for ev in pl.split(b'\n\n'):
            if b'"content":"' in ev and b'"content":""' not in ev:
                times.append(ts)
    o = t['observation']
    n = o['content_tokens']; ch = o['chunks']
    if len(times) != ch or ch < 2: 
        print('mismatch', t['name'], len(times), ch); continue
    span = times[-1] - times[0]
    wire = (n - n/ch) / span
    c, s = o['client_tokens_per_s'], o['server_tokens_per_s']
    rows.append((t['name'], (c-wire)/wire*100, (wire-s)/s*100, (c-s)/s*100))
print('hxrun vs the wire (packet times): median %.3f%%, max |%.3f|%%' % (st.median([r[1] for r in rows]), max(abs(r[1]) for r in rows)))
print('the wire vs the server: median %.3f%%, range %.2f..%.2f' % (st.median([r[2] for r in rows]), min(r[2] for r in rows), max(r[2] for r in rows)))
for r in sorted(rows, key=lambda r: -abs(r[3]))[:6]:
    print('%-45s hxrun-wire %+.3f%%  wire-server %+.2f%%  hxrun-server %+.2f%%' % r)
