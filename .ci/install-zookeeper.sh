#!/usr/bin/env bash
# Install Debian's ZooKeeper (server jar and Java) for the simulator's tests.
# Idempotent and non-interactive; the tests start their own server on a
# loopback port with their own config and data directory, so the packaged
# service (zookeeperd) is not installed or started.
set -euo pipefail
if [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null; then
    echo "zookeeper already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends zookeeper default-jre-headless
test -f /usr/share/java/zookeeper.jar
java -version
