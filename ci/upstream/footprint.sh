#!/usr/bin/env bash
# The production skr's footprint on its deployed path, with upstream's skr as the baseline in
# the same run (UPSTREAM_SKR=path/to/upstream/skr; without it only our figures are printed).
# CSC_SKR: the skr to measure (default: target/release/skr, `cargo build --release -p skr`);
# CSC_TSM_SIMULATE: the simulated guest (default target/debug/tsm-simulate).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
export CSC_SKR=$(realpath "${CSC_SKR:-$target/release/skr}")
export CSC_TSM_SIMULATE=$(realpath "${CSC_TSM_SIMULATE:-$target/debug/tsm-simulate}")
exec unshare --net --mount --propagation private python3 ci/upstream/footprint.py
