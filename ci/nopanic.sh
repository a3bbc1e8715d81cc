#!/usr/bin/env bash
# No-panic and no_std proof for the core.
#  1. csc-core builds with default features (no allocator) for thumbv7em-none-eabihf and
#     x86_64-unknown-none.
#  2. ci/nopanic links the core's entry points into a freestanding binary whose panic handler
#     calls an undefined function: any panic path that survives optimisation is a link error.
#  3. Prints the code size for thumbv7em.
# `ci/nopanic.sh --find` lists where remaining panic calls come from instead.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(thumbv7em-none-eabihf x86_64-unknown-none)
sysroot=$(rustc --print sysroot)
# Respect a shared CARGO_TARGET_DIR (absolute) when one is set.
nopanic_target=ci/nopanic/target
size_tool=$(ls "$sysroot"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -1 || true)

if [[ "${1:-}" == "--find" ]]; then
  (cd ci/nopanic && CARGO_PROFILE_RELEASE_DEBUG=1 cargo rustc --release --target-dir target --target thumbv7em-none-eabihf \
      --features find -- --emit=llvm-ir)
  python3 ci/find-panics.py "$nopanic_target"/thumbv7em-none-eabihf/release/deps/csc_nopanic-*.ll
  exit 0
fi

for t in "${TARGETS[@]}"; do
  echo "== csc-core (no default features) for $t"
  cargo build -q -p csc-core --no-default-features --target "$t" --release
  echo "== no-panic link check for $t"
  if ! (cd ci/nopanic && cargo build -q --release --target-dir target --target "$t"); then
    echo "FAIL: a panic path survives in the core (run ci/nopanic.sh --find to see where)" >&2
    exit 1
  fi
done
bin="$nopanic_target"/thumbv7em-none-eabihf/release/csc-nopanic
if [[ -n "$size_tool" ]]; then
  "$size_tool" -A "$bin" | awk '/^\.(text|rodata)/ {s+=$2} END {printf "core code size (thumbv7em, opt-level s, text+rodata of the no-panic binary): %d bytes\n", s}'
else
  echo "core code size: llvm-size not found (rustup component add llvm-tools)"
fi
