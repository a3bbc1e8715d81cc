#!/usr/bin/env bash
# CI: builds the skr and encfs images (docker/build.sh: static musl binaries, empty base,
# nothing pulled), then
# - checks that the binaries carry no simulator or emulator, and that the skr image asked for
#   the simulator (CSC_SIMULATE=1) exits with a message (ci/upstream/run.sh then runs
#   upstream's suite against the image);
# - runs the encfs image with `--help` and with an input missing a required field, which must
#   fail with an error naming it.
# Prints each image's size; the last line is a one-line summary.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf
P=(podman --runtime runc --cgroup-manager cgroupfs --storage-driver vfs)
name=csc-skr-ci-$$
cleanup() {
  "${P[@]}" rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "images: FAILED: $*" >&2; "${P[@]}" logs "$name" >&2 2>&1 || true; exit 1; }

docker/build.sh ci | tee "$work/sizes"

# --- skr: a production image, without the simulator ---------------------------------------
# Its serving and key release are tested as deployed by ci/upstream/run.sh (upstream's suite
# against the image, tsm-simulate and azure-emulator); here: it has no test kit inside, and a
# request for the simulator is refused with a message.
for bin in skr encfs get-snp-report; do
  f=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/${IMAGE_PROFILE:-release}/$bin
  if grep -aqE 'SIMULATED SEV-SNP platform in use|unchecked-signature-placeholder|fault injection' "$f"; then
    fail "$bin carries simulator or emulator code"
  fi
done
echo "images: skr, encfs, get-snp-report carry no simulator or emulator"
set +e
out=$("${P[@]}" run --rm --network none -e CSC_SIMULATE=1 csc-skr:ci 2>&1)
rc=$?
set -e
[[ $rc == 2 && $out == *"no simulated platform"* ]] ||
  fail "skr image with CSC_SIMULATE=1 answered (exit $rc): $out"
echo "images: skr image refuses CSC_SIMULATE=1 (exit 2): this build has no simulator"

# --- encfs: the binary runs in its image and checks its input -------------------------------
"${P[@]}" run --rm csc-encfs:ci /encfs.sh --help >/dev/null || fail "encfs --help"
args=$(printf '{"azure_filesystems":[{"mount_point":"/mnt/remote/share","read_write":false}]}' | base64 -w0)
set +e
out=$("${P[@]}" run --rm -e EncfsSideCarArgs="$args" csc-encfs:ci 2>&1)
rc=$?
set -e
[[ $rc != 0 ]] || fail "encfs accepted an input without azure_url"
[[ $out == *azure_url* ]] || fail "encfs error does not name azure_url: $out"
echo "images: encfs container refused an input without azure_url (exit $rc)"

sizes=$(grep -o 'csc-[a-z]*:ci: [0-9]* bytes' "$work/sizes" | sed 's/:ci: /=/; s/ bytes//' | paste -sd' ')
echo "images: ok (${IMAGE_PROFILE:-release} profile); $sizes"
