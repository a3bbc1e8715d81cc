#!/usr/bin/env bash
# The project's whole test run, as CI does it on a fresh machine (.ci/run calls this):
# setup, format, lints, every test, the no_std / no-panic checks, the deployment examples, the
# container images and a bounded fuzz run.
# Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# A clean build: incremental compilation data would only cost time and disk here.
export CARGO_INCREMENTAL=0
step() { echo; echo "=== $* (at $(( $(date +%s) - start ))s)"; }

step setup
ci/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

# The test kit's entry points (skr's in-process sandbox, tsm-simulate, the tools' --simulate)
# are features that production builds leave off; tests and lints build them in.
KIT_FEATURES=skr/sandbox,csc-release/sandbox,csc-tools/simulate

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked --features "$KIT_FEATURES" -- -D warnings
# and the production configuration of the crates whose code depends on those features
cargo clippy -p skr -p csc-tools -p csc-sev -p csc-release --all-targets --locked -- -D warnings

step "static binaries (musl; the VM test and the container images use them)"
# The same build docker/build.sh makes for the images step, which then finds it done.
static_profile=${IMAGE_PROFILE:-ci-image}
cargo build --profile "$static_profile" --locked --target x86_64-unknown-linux-musl \
  -p skr -p encfs -p csc-tools --bin skr --bin encfs --bin get-snp-report
export ENCFS_STATIC_BIN
ENCFS_STATIC_BIN=$(realpath -m "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-musl/$static_profile/encfs

step "tests"
test_log=$(mktemp)
# Built with the network (crates may still need fetching), run without it: every test runs in
# a network namespace with loopback only, so a stray request to a real address fails.
cargo test --workspace --locked --features "$KIT_FEATURES" --no-run
ci/loopback-only.sh cargo test --workspace --frozen --features "$KIT_FEATURES" 2>&1 | tee "$test_log"
tests=$(grep -oE 'test result: ok\. [0-9]+ passed' "$test_log" | awk '{s+=$4} END {print s+0}')
rm -f "$test_log"

step "no_std builds and no-panic link check"
size_line=$(ci/nopanic.sh | tee /dev/stderr | tail -1)

step "stack and code size of verification (thumbv7em)"
ci/stack.sh

step "firmware-style example (x86_64-unknown-none): code size and stack"
firmware_line=$(ci/firmware.sh | tee /dev/stderr | tail -1)

step "deployment examples"
examples_line=$(python3 examples/validate.py | tee /dev/stderr | tail -1)

step "container images (podman)"
images_line=$(IMAGE_PROFILE=$static_profile ci/images.sh | tee /dev/stderr | tail -1)

step "upstream's integration suites against the deployed production sidecars"
# skr: the image under podman; encfs: the binary (FUSE, loop and mount from its own namespace)
upstream_line=$( { CSC_SIDECAR_RUNNER=podman ci/upstream/run.sh skr && ci/upstream/run.sh encfs; } |
  tee /dev/stderr | grep -E '^upstream (skr|encfs) suite' | paste -sd' ')

step "fuzz (bounded)"
fuzz_line=$(FUZZ_SECONDS=${FUZZ_SECONDS:-5} ci/fuzz.sh | tee /dev/stderr | tail -1)

elapsed=$(( $(date +%s) - start ))
echo
echo "SUMMARY: ok; $tests tests passed; $size_line; $firmware_line; $examples_line; $images_line; $upstream_line; $fuzz_line; ${elapsed}s"
