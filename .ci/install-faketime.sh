#!/usr/bin/env bash
# Install Debian's libfaketime for the wall-clock jump test
# (tests/faults/test_clock.py, skipped without it). Idempotent, non-interactive.
set -euo pipefail
if [ -f /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ]; then
    echo "libfaketime already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends libfaketime
