#!/usr/bin/env bash
# Runs upstream's integration suites against the production sidecars, as deployed, in private
# network and mount namespaces (loopback only). Usage: ci/upstream/run.sh [skr] [encfs]
# Binaries (defaults in brackets):
#   CSC_SKR, CSC_ENCFS       production sidecars [the musl ci-image build, else target/release]
#   CSC_TSM_SIMULATE, CSC_AZURE_EMULATOR, CSC_ENCFS_IMAGE_TOOL   the test kit [target/debug]
#   CSC_SIDECAR_RUNNER=binary|podman   run the sidecars as binaries or as their images
#   (csc-skr:ci, csc-encfs:ci; CSC_SKR_IMAGE, CSC_ENCFS_IMAGE) [binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
pick() { for f in "$@"; do [[ -x $f ]] && { echo "$f"; return; }; done; echo "$1"; }
target=${CARGO_TARGET_DIR:-target}
export CSC_SKR=${CSC_SKR:-$(pick "$target/x86_64-unknown-linux-musl/ci-image/skr" "$target/release/skr")}
export CSC_ENCFS=${CSC_ENCFS:-$(pick "$target/x86_64-unknown-linux-musl/ci-image/encfs" "$target/release/encfs")}
export CSC_TSM_SIMULATE=${CSC_TSM_SIMULATE:-$target/debug/tsm-simulate}
export CSC_AZURE_EMULATOR=${CSC_AZURE_EMULATOR:-$target/debug/azure-emulator}
export CSC_ENCFS_IMAGE_TOOL=${CSC_ENCFS_IMAGE_TOOL:-$target/debug/encfs-image}
for v in CSC_SKR CSC_ENCFS CSC_TSM_SIMULATE CSC_AZURE_EMULATOR CSC_ENCFS_IMAGE_TOOL; do
  export "$v=$(realpath -m "${!v}")"
done
# The production sidecars must carry no simulator or emulator.
for b in "$CSC_SKR" "$CSC_ENCFS"; do
  [[ -e $b ]] || continue
  if grep -aqE 'SIMULATED SEV-SNP platform in use|unchecked-signature-placeholder|fault injection' "$b"; then
    echo "upstream: $b contains simulator or emulator code; it is not a production build" >&2
    exit 1
  fi
done
suites=("$@")
((${#suites[@]})) || suites=(skr encfs)
rc=0
for s in "${suites[@]}"; do
  unshare --net --mount --propagation private python3 ci/upstream/harness.py "$s" || rc=1
done
exit $rc
