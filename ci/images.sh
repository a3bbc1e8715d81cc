#!/usr/bin/env bash
# CI: builds the skr and encfs images (docker/build.sh: static musl binaries, empty base,
# nothing pulled), then
# - runs the skr image as deployments do (its default command, configuration through the
#   environment) on the simulated platform (CSC_SIMULATE=1) and reaches /status and
#   /key/release from outside the container;
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

# --- skr: from outside the container -------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${P[@]}" run -d --name "$name" --network host -e CSC_SIMULATE=1 -e Port="$port" \
  -e LogLevel=info csc-skr:ci >/dev/null
status=""
for _ in $(seq 1 120); do
  status=$(curl -s "http://127.0.0.1:$port/status" || true)
  [[ $status == *"Status OK"* ]] && break
  sleep 0.5
done
[[ $status == *"Status OK"* ]] || fail "/status answered '$status'"
echo "images: skr container /status: $status"

line=$("${P[@]}" logs "$name" 2>&1 | grep -m1 '"simulate":true' || true)
[[ -n $line ]] || fail "skr --simulate printed no endpoint line"
body=$(python3 - "$line" <<'PY'
import json, sys
v = json.loads(sys.argv[1])
print(json.dumps({"maa_endpoint": v["maa_endpoint"], "akv_endpoint": v["akv_endpoint"],
                  "kid": v["keys"]["oct"]}))
PY
)
answer=$(curl -s -X POST -H 'Content-Type: application/json' -d "$body" \
  "http://127.0.0.1:$port/key/release")
python3 - "$answer" <<'PY' || fail "/key/release answered: $answer"
import json, sys
key = json.loads(json.loads(sys.argv[1])["key"])
assert key["kty"] == "oct" and len(key["k"]) == 43, key.get("kty")
PY
echo "images: skr container /key/release: released an oct key (256 bits)"
bad=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"runtime_data": "%%%"}' \
  "http://127.0.0.1:$port/attest/raw")
[[ $bad == 400 ]] || fail "/attest/raw with bad base64 answered $bad, not 400"
"${P[@]}" stop -t 10 "$name" >/dev/null
code=$("${P[@]}" inspect --format '{{.State.ExitCode}}' "$name")
[[ $code == 0 ]] || fail "skr exited with $code on SIGTERM"
echo "images: skr container stopped cleanly on SIGTERM"

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
