#!/usr/bin/env bash
# Prepares a fresh machine for ci/test.sh: Rust targets and components, the nightly toolchain
# and cargo-fuzz for fuzzing, and the system packages the tests use. Idempotent; quick when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*"; }

# --- Rust ---
rustup component add clippy rustfmt llvm-tools >/dev/null 2>&1 || log "warning: rustup components"
for t in thumbv7em-none-eabihf x86_64-unknown-none x86_64-unknown-linux-musl; do
  rustup target list --installed | grep -qx "$t" || { log "adding target $t"; rustup target add "$t"; }
done
if ! rustup toolchain list | grep -q '^nightly'; then
  log "installing nightly (for cargo-fuzz)"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# --- system packages (apt) ---
# fuse3: the FUSE test filesystems (configfs-tsm stand-in, csc-mount); openssl: the CLI that
# checks the simulated platform's certificate chain independently; nodejs: Azurite for the blob
# tests; cryptsetup-bin, e2fsprogs: LUKS2 interop and ext4 images; qemu-system-x86, cpio, kmod,
# xz-utils: the device-mapper VM (shared/vm/prepare.sh); valgrind: constant-time instruction
# counts (csc-crypto tests); libssl-dev, pkg-config: the OpenSSL baseline of the unwrap benchmark;
# musl-tools: static binaries for the images (aws-lc's C code); podman, runc, ca-certificates,
# curl, python3: building and probing the images (ci/images.sh); python3-pip: kubernetes-validate;
# iproute2, util-linux: the encfs VM test's loopback-only network namespace (ip, unshare).
APT_PACKAGES=(fuse3 openssl nodejs cryptsetup-bin e2fsprogs qemu-system-x86 cpio kmod xz-utils
  valgrind libssl-dev pkg-config musl-tools podman runc ca-certificates curl python3 python3-pip
  iproute2 util-linux ${CI_APT_PACKAGES:-})
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  log "apt install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The dm-crypt tests boot a small VM (shared/vm); its kernel and busybox are fetched from Debian
# here, because the tests themselves run without a network (ci/loopback-only.sh).
vm_kit=${CSC_VM_DIR:-}
for d in ../shared/vm /work/shared/vm; do [[ -n $vm_kit ]] || { [[ -x $d/prepare.sh ]] && vm_kit=$d; }; done
if [[ -n $vm_kit ]]; then
  bash "$vm_kit/prepare.sh" "${CSC_VM_WORKDIR:-/var/tmp/csc-vm}" >/dev/null
else
  log "warning: shared/vm is missing; the dm-crypt VM tests will fail"
fi
# The FUSE tests mount through /dev/fuse (as root, without libfuse).
[[ -e /dev/fuse ]] || modprobe fuse 2>/dev/null || log "warning: /dev/fuse is missing; FUSE tests will fail"
# --- node tools: the blob tests run against Azurite, the Azure Storage emulator (npm) ---
if ! command -v azurite-blob >/dev/null 2>&1; then
  if ! command -v npm >/dev/null 2>&1; then
    log "apt install npm"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  log "installing azurite"
  npm install -g azurite@3 --no-audit --no-fund >/dev/null
fi
# --- python tools: the Kubernetes examples are validated against the API schemas ---
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  log "installing kubernetes-validate (PyPI)"
  python3 -m pip install --quiet kubernetes-validate 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages kubernetes-validate
fi
# --- python packages of upstream's integration suites (ci/upstream): its tests import requests,
# cryptography and flask; the grpcurl stand-in uses grpcio with server reflection ---
if ! python3 -c 'import requests, cryptography, flask, grpc, grpc_reflection' 2>/dev/null; then
  log "installing requests cryptography flask grpcio grpcio-reflection (PyPI)"
  python3 -m pip install --quiet requests cryptography flask grpcio grpcio-reflection 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages requests cryptography flask grpcio grpcio-reflection
fi
log "ready"
