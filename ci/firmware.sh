#!/usr/bin/env bash
# The firmware-style example (examples/firmware): builds it freestanding for x86_64-unknown-none
# and prints its code size (text+rodata) and the worst-case stack of firmware_main (frames from
# -Z emit-stack-sizes, RUSTC_BOOTSTRAP on the stable toolchain; call graph from the disassembly,
# jump tables off so that every indirect jump would show as a call, and static relocations so
# that calls to memcpy and friends are direct rather than through the GOT). Fails if the stack exceeds
# STACK_LIMIT bytes (default 32 KiB).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${STACK_LIMIT:-32768}
target=x86_64-unknown-none
out=$PWD/target/firmware-example
(cd examples/firmware && cargo build -q --release --target "$target" --target-dir "$out")
bin=$out/$target/release/csc-firmware-example
size_tool=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size | head -1)
code=$("$size_tool" -A "$bin" | awk '/^\.(text|rodata)/ {s+=$2} END {print s}')
(cd examples/firmware && RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Z emit-stack-sizes -C jump-tables=no -C relocation-model=static -Z plt=yes" \
    cargo build -q --release --target "$target" --target-dir "$out-stack")
report=$(python3 ci/stack-depth.py "$out-stack/$target/release/csc-firmware-example" firmware_main)
echo "$report"
bytes=$(echo "$report" | head -1 | grep -oE '[0-9]+ bytes' | grep -oE '[0-9]+')
if (( bytes > limit )); then
  echo "FAIL: firmware_main needs $bytes bytes of stack, more than $limit" >&2
  exit 1
fi
echo "firmware example on $target: code $code bytes (text+rodata, opt-level s: guest messages, AES-256-GCM, report verification incl. built-in roots, derived keys), stack $bytes bytes (limit $limit)"
