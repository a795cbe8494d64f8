#!/usr/bin/env bash
# A portable Linux hxrun: linked against glibc 2.17 (RHEL/CentOS 7, Ubuntu 14.04 and every newer
# distribution), built with cargo-zigbuild (`pip install cargo-zigbuild ziglang`), then checked:
# no symbol it imports needs a newer glibc, and it runs the phase6 suite against its simulator.
#
#   scripts/portable-linux.sh            # → target/x86_64-unknown-linux-gnu/release/hxrun
#   GLIBC=2.28 scripts/portable-linux.sh # another floor
#   scripts/portable-linux.sh BIN        # only check a binary built elsewhere (scripts/release.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
glibc=${GLIBC:-2.17}
if [ $# -ge 1 ]; then
  bin=$1
else
  command -v cargo-zigbuild >/dev/null || { echo "needs cargo-zigbuild: pip install cargo-zigbuild ziglang" >&2; exit 2; }
  cargo zigbuild --release --target "x86_64-unknown-linux-gnu.$glibc"
  bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release/hxrun
fi
needed=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -1)
echo "$bin needs glibc $needed at most (floor $glibc)"
newest=$(printf '%s\n%s\n' "$needed" "$glibc" | sort -t. -k1,1n -k2,2n -k3,3n | tail -1)
if [ "$newest" != "$glibc" ] && [ "$needed" != "$glibc" ]; then
  echo "it needs glibc $needed, above the floor $glibc" >&2
  exit 1
fi
"$bin" --version
"$bin" suites/phase6.yaml --sim --no-progress --report-dir target/portable-check >/dev/null
echo "ok: it runs the phase6 suite (reports in target/portable-check)"
