#!/usr/bin/env bash
# The release artifacts for hosts without Rust, built once and each checked by running the
# phase6 suite against the simulator. Everything lands in target/dist/:
#   1. the Python wheel — maturin (`bindings = "bin"`, pyproject.toml) through zig against glibc
#      2.17 (manylinux2014: RHEL/CentOS 7 and every newer x86_64 Linux). `pip install` of it in
#      a fresh virtualenv must put `hxrun` on the PATH, and that hxrun must run the suite;
#   2. the portable binary — the one inside the wheel, checked by scripts/portable-linux.sh (no
#      imported symbol needs a newer glibc);
#   3. the archive hxrun-VERSION-x86_64-unknown-linux-gnu.tar.gz (that binary, README, schema)
#      with its .sha256, checked with `sha256sum -c`, unpacked and run.
# Needs: pip install maturin ziglang (cargo-zigbuild is not needed: maturin drives zig itself).
#
#   scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v maturin >/dev/null || { echo "needs maturin: pip install maturin ziglang" >&2; exit 2; }
target_dir=${CARGO_TARGET_DIR:-target}
dist=$target_dir/dist
rm -rf "$dist"
mkdir -p "$dist"

maturin build --release --locked --zig --target x86_64-unknown-linux-gnu \
  --compatibility manylinux2014 --out "$dist" --quiet
wheels=("$dist"/hxrun-*.whl)
wheel=${wheels[0]}
echo "wheel: $wheel"

# The binary inside the wheel is the portable one.
unpacked=$dist/wheel-content
python3 -m zipfile -e "$wheel" "$unpacked"
bin=$(find "$unpacked" -path '*.data/scripts/hxrun' -type f)
chmod +x "$bin"
scripts/portable-linux.sh "$bin"
version=$("$bin" --version | awk '{print $2}')

venv=$target_dir/wheel-venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --no-index "$wheel"
(
  export PATH="$PWD/$venv/bin:$PATH"
  [ "$(command -v hxrun)" = "$PWD/$venv/bin/hxrun" ] || { echo "the wheel did not put hxrun on the PATH" >&2; exit 1; }
  hxrun --version
  hxrun suites/phase6.yaml --sim --no-progress --report-dir "$target_dir/wheel-check" >/dev/null
)
echo "ok: pip install of the wheel in a fresh virtualenv gives an hxrun that runs the phase6 suite"

name=hxrun-$version-x86_64-unknown-linux-gnu
stage=$dist/$name
mkdir -p "$stage"
cp "$bin" README.md schemas/suite.schema.json "$stage/"
tar -C "$dist" -czf "$dist/$name.tar.gz" "$name"
rm -rf "$stage" "$unpacked"
(cd "$dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256" && sha256sum -c "$name.tar.gz.sha256")
check=$target_dir/archive-check
rm -rf "$check"
mkdir -p "$check"
tar -C "$check" -xzf "$dist/$name.tar.gz"
"$check/$name/hxrun" suites/phase6.yaml --sim --no-progress --report-dir "$check/reports" >/dev/null
echo "ok: $dist/$name.tar.gz unpacks and runs the phase6 suite; sha256 $(cut -d' ' -f1 "$dist/$name.tar.gz.sha256")"
ls -l "$dist"
