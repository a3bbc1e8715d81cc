#!/usr/bin/env bash
# Runs a command in a new network namespace whose only interface is loopback, so that a test or a
# simulated run that tries to reach any other address (IMDS at 169.254.169.254, AMD's KDS, Azure)
# fails at once instead of leaving the machine.      Usage: ci/loopback-only.sh COMMAND [ARGS...]
set -euo pipefail
exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' loopback-only "$@"
