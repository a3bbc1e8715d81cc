#!/bin/sh
# Runs inside the VM of shared/vm, driven by sidecars/encfs/tests/vm.rs: the static encfs
# binary with dm-crypt, as deployments run it, for each input in $@ ("local": images on the
# virtio disks; "blob": page blobs in the host's Azurite, reached through the host's latency
# proxy over qemu's user network). Each input holds a read-only filesystem (ro) and a
# read-write one (rw) of the same files. For each:
#   start; every file of both checks out; a file is written and fsynced; kill -9;
#   start again (the dead run's mounts, dm and loop devices are cleared); the fsynced file is
#   there; a file written without fsync; SIGTERM leaves no mount, loop or dm device;
#   start again: that file was written back; writes to ro are refused; SIGTERM.
# Prints VM-ENCFS-OK at the end; any failure prints VM-FAIL and exits non-zero. The host
# then checks the rw images with e2fsck and reads the files back.
set -u
cd /work
PID=
fail() {
  echo "VM-FAIL: $*"
  for f in /tmp/*.log; do [ -e "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
  exit 1
}
log() { echo "VM: $*"; }

start() { # input tag
  rm -f /tmp/ready
  EncfsSideCarArgs=$(cat "$1.b64") ./encfs -readyfile /tmp/ready -logfile "/tmp/$2.log" \
    -loglevel info -exposure dm-crypt -cafile ca.pem &
  PID=$!
  i=0
  while [ "$(cat /tmp/ready 2>/dev/null)" != 1 ]; do
    if ! kill -0 "$PID" 2>/dev/null; then
      wait "$PID"
      fail "$2: encfs exited ($?) before it was ready"
    fi
    i=$((i + 1))
    [ "$i" -gt 3000 ] && fail "$2: not ready after 300 s"
    sleep 0.1
  done
  grep -q 'exposure=DmCrypt' "/tmp/$2.log" || fail "$2: not mounted through dm-crypt"
  log "$2: ready (dm-crypt)"
}

leftovers() {
  grep -E ' /mnt/| /tmp/csc-mount' /proc/mounts
  for d in /sys/block/dm-*; do [ -e "$d" ] && echo "dm device $(cat "$d/dm/name")"; done
  for b in /sys/block/loop*/loop/backing_file; do [ -e "$b" ] && echo "loop device on $(cat "$b")"; done
}

clean() { # tag; loop devices are released a moment after their last user
  i=0
  while [ -n "$(leftovers)" ]; do
    i=$((i + 1))
    [ "$i" -gt 50 ] && fail "$1: left behind: $(leftovers)"
    sleep 0.1
  done
  log "$1: no mount, loop or dm device left"
}

stop() { # tag
  kill -TERM "$PID"
  wait "$PID"
  rc=$?
  [ "$rc" = 0 ] || fail "$1: exit status $rc after SIGTERM"
  clean "$1"
}

files_check() { # dir tag
  (cd "$1" && md5sum -c -s /work/tree.md5) || fail "$2: files in $1 differ from the image's"
}

run() { # input
  k=$1
  mkdir -p "/mnt/$k"
  start "$k" "$k-1"
  files_check "/mnt/$k/ro" "$k-1"
  files_check "/mnt/$k/rw" "$k-1"
  cp payload.bin "/mnt/$k/rw/fsynced.bin" && sync "/mnt/$k/rw/fsynced.bin" ||
    fail "$k-1: write + fsync failed"
  log "$k-1: wrote and fsynced fsynced.bin"
  kill -9 "$PID"
  wait "$PID" 2>/dev/null
  log "$k-1: killed with SIGKILL; left: $(leftovers | wc -l) mounts/devices"
  start "$k" "$k-2"
  grep -q 'previous run: removed device-mapper device' "/tmp/$k-2.log" ||
    fail "$k-2: the dead run's dm devices were not cleared"
  cmp payload.bin "/mnt/$k/rw/fsynced.bin" || fail "$k-2: fsynced data lost after kill -9"
  log "$k-2: fsynced.bin intact after kill -9 and restart"
  files_check "/mnt/$k/ro" "$k-2"
  echo "written back on SIGTERM" >"/mnt/$k/rw/at-exit.txt" || fail "$k-2: write failed"
  stop "$k-2"
  start "$k" "$k-3"
  [ "$(cat "/mnt/$k/rw/at-exit.txt")" = "written back on SIGTERM" ] ||
    fail "$k-3: the file written before SIGTERM is missing"
  if (echo no >"/mnt/$k/ro/refused.txt") 2>/dev/null; then fail "$k-3: wrote to a read-only mount"; fi
  log "$k-3: a write to the read-only mount was refused"
  files_check "/mnt/$k/rw" "$k-3"
  stop "$k-3"
  log "$k: done"
}

for input in "$@"; do
  if [ "$input" = blob ]; then
    for m in failover net_failover virtio_net; do insmod "modules/$m.ko" || fail "insmod $m"; done
    i=0
    while ! ip link show eth0 >/dev/null 2>&1; do
      i=$((i + 1)); [ "$i" -gt 50 ] && fail "no network interface"; sleep 0.1
    done
    ip link set lo up && ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 ||
      fail "network setup"
    log "network up: 10.0.2.15, host at 10.0.2.2"
  fi
  run "$input"
done
echo "VM-ENCFS-OK"
