#!/usr/bin/env bash
# The release artifacts for hosts without Rust, each checked by running the phase6 suite:
#   1. the portable binary (scripts/portable-linux.sh: glibc 2.17 floor, cargo-zigbuild);
#   2. the Python wheel (maturin, `bindings = "bin"`, same zig build): installed into a fresh
#      virtualenv, where `hxrun` must be on the PATH and run the suite;
#   3. the archive hxrun-VERSION-x86_64-unknown-linux-gnu.tar.gz (the binary, README, schema),
#      with its .sha256 — checked with `sha256sum -c`, unpacked and run.
# Needs: pip install cargo-zigbuild ziglang maturin. Everything lands in target/dist/.
#
#   scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in cargo-zigbuild maturin; do
  command -v "$tool" >/dev/null || { echo "needs $tool: pip install cargo-zigbuild ziglang maturin" >&2; exit 2; }
done
target_dir=${CARGO_TARGET_DIR:-target}
dist=$target_dir/dist
rm -rf "$dist"
mkdir -p "$dist"

scripts/portable-linux.sh
bin=$target_dir/x86_64-unknown-linux-gnu/release/hxrun
version=$("$bin" --version | awk '{print $2}')

# The wheel: the same target and glibc floor, so cargo reuses the portable build.
maturin build --release --locked --zig --target x86_64-unknown-linux-gnu \
  --compatibility manylinux2014 --out "$dist" --quiet
wheel=$(ls "$dist"/hxrun-"$version"-*.whl)
echo "wheel: $wheel"
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
echo "ok: pip install of the wheel gives an hxrun that runs the phase6 suite"

# The archive and its checksum.
name=hxrun-$version-x86_64-unknown-linux-gnu
stage=$dist/$name
mkdir -p "$stage"
cp "$bin" README.md schemas/suite.schema.json "$stage/"
tar -C "$dist" -czf "$dist/$name.tar.gz" "$name"
rm -rf "$stage"
(cd "$dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256" && sha256sum -c "$name.tar.gz.sha256")
check=$target_dir/archive-check
rm -rf "$check"
mkdir -p "$check"
tar -C "$check" -xzf "$dist/$name.tar.gz"
"$check/$name/hxrun" suites/phase6.yaml --sim --no-progress --report-dir "$check/reports" >/dev/null
echo "ok: $dist/$name.tar.gz ($(cut -c1-16 "$dist/$name.tar.gz.sha256")…) unpacks and runs the phase6 suite"
ls -l "$dist"
