#!/usr/bin/env bash
# Builds the skr and encfs images from static musl binaries, without pulling anything.
#   docker/build.sh [TAG]        (default tag: latest; images csc-skr:TAG and csc-encfs:TAG)
# Uses podman (Debian's works as root with runc, cgroupfs and the vfs driver) or, if
# CONTAINER_ENGINE=docker, docker. Prints each image's size.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-latest}
target=x86_64-unknown-linux-musl
engine=${CONTAINER_ENGINE:-podman}

# IMAGE_PROFILE=ci-image (CI) skips fat LTO; release is what deployments get.
profile=${IMAGE_PROFILE:-release}
cargo build --profile "$profile" --locked --target "$target" -p skr -p encfs -p csc-tools \
  --bin skr --bin encfs --bin get-snp-report
out=${CARGO_TARGET_DIR:-target}/$target/$profile

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ $engine == podman ]]; then
  printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
  export CONTAINERS_CONF=$work/containers.conf
  engine_cmd=(podman --runtime runc --cgroup-manager cgroupfs --storage-driver vfs)
else
  engine_cmd=(docker)
fi

ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[[ -s $ca ]] || { echo "build.sh: no CA bundle at $ca (install ca-certificates or set CA_BUNDLE)" >&2; exit 1; }

for name in skr encfs; do
  ctx=$work/$name
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp"
  chmod 1777 "$ctx/rootfs/tmp"
  install -m 0755 "$out/$name" "$ctx/rootfs/bin/$name"
  install -m 0755 "$out/get-snp-report" "$ctx/rootfs/bin/get-snp-report"
  install -m 0644 "$ca" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
  ln -s "/bin/$name" "$ctx/rootfs/$name.sh"
  cp "docker/$name/Containerfile" "$ctx/Containerfile"
  "${engine_cmd[@]}" build --quiet --pull=never -t "csc-$name:$tag" -f "$ctx/Containerfile" "$ctx" >/dev/null
  size=$("${engine_cmd[@]}" image inspect --format '{{.Size}}' "csc-$name:$tag")
  echo "image csc-$name:$tag: $size bytes ($(( size / 1024 )) KiB); binary $(stat -c %s "$out/$name") bytes"
done
