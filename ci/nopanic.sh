#!/usr/bin/env bash
# No-panic and no_std proof for the core.
#  1. csc-core builds with default features (no allocator) for thumbv7em-none-eabihf and
#     x86_64-unknown-none.
#  2. The parsers' no-panic proof: ci/nopanic links every input-facing parser into a freestanding
#     binary whose panic handler calls an undefined function, so any panic path that survives
#     optimisation is a link error.
#  3. The full core (parsers + verification + unwrap + JWK, `--features full`) links
#     freestanding without an allocator for both targets.
#  4. The panic sites left in the full core are listed (ci/find-panics.py): each must be inside a
#     third-party primitive (docs/ARCHITECTURE.md says why none is reachable from input), and the
#     count per crate may not grow past ci/nopanic/panic-sites.txt. Prints the code size of the
#     full core for thumbv7em.
# `ci/nopanic.sh --find` only lists the panic sites of the full core.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(thumbv7em-none-eabihf x86_64-unknown-none)
sysroot=$(rustc --print sysroot)
nopanic_target=ci/nopanic/target
size_tool=$(ls "$sysroot"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -1 || true)

list_panic_sites() {
  # Line tables only: enough for the inlinedAt chains, and codegen is unchanged. Old IR files
  # (other hashes) are removed and the binary rebuilt, so that exactly the current one is read.
  rm -f "$nopanic_target"/find/thumbv7em-none-eabihf/release/deps/csc_nopanic-*.ll
  touch ci/nopanic/src/main.rs
  (cd ci/nopanic && CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo rustc -q --release \
      --target-dir target/find --target thumbv7em-none-eabihf --features full -- --emit=llvm-ir)
  python3 ci/find-panics.py "$nopanic_target"/find/thumbv7em-none-eabihf/release/deps/csc_nopanic-*.ll "$@"
}

if [[ "${1:-}" == "--find" ]]; then
  list_panic_sites
  exit 0
fi

for t in "${TARGETS[@]}"; do
  echo "== csc-core (no default features) for $t"
  cargo build -q -p csc-core --no-default-features --target "$t" --release
  echo "== parsers' no-panic link check for $t"
  if ! (cd ci/nopanic && cargo build -q --release --target-dir target --target "$t"); then
    echo "FAIL: a panic path survives in the core's parsers (build ci/nopanic with --features full and run ci/nopanic.sh --find to see where)" >&2
    exit 1
  fi
  echo "== full core, freestanding without an allocator, for $t"
  (cd ci/nopanic && cargo build -q --release --target-dir target/full --target "$t" --features full)
done
echo "== panic sites left in the full core (thumbv7em)"
list_panic_sites --check ci/nopanic/panic-sites.txt | tail -n 3
bin="$nopanic_target"/full/thumbv7em-none-eabihf/release/csc-nopanic
if [[ -n "$size_tool" ]]; then
  "$size_tool" -A "$bin" | awk '/^\.(text|rodata)/ {s+=$2} END {printf "full core code size (thumbv7em, opt-level s, text+rodata: parse + verify + unwrap + JWK): %d bytes\n", s}'
else
  echo "core code size: llvm-size not found (rustup component add llvm-tools)"
fi
