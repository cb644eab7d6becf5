#!/usr/bin/env bash
# Make the real Apache Mesos beside the repo (../shared/mesos, or $ARK_MESOS_DIST)
# ready before the tests use it: its first start unpacks it and installs its
# Debian runtime libraries, which must not happen inside a test's timeout. A
# master and an agent are started once and stopped. Where there is no Mesos
# (a user's machine), say so: the tests that need it are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${ARK_MESOS_DIST:-../shared/mesos}
# A clone elsewhere than beside ../shared uses the team's copy (as tests/sim/masters.py does).
if [ -z "${ARK_MESOS_DIST:-}" ] && [ ! -d "$DIST" ] && [ -d /work/shared/mesos ]; then
    DIST=/work/shared/mesos
fi
if [ ! -x "$DIST/start-mesos.sh" ]; then
    echo "no real Mesos at $DIST: the checks against a real master will be skipped"
    exit 0
fi
DIR=$(mktemp -d -t ark-mesos-ci.XXXXXX)
trap '"$DIST/stop-mesos.sh" "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
# A port of its own: the suite's masters take free blocks from 15050 up.
"$DIST/start-mesos.sh" --agents 1 --port 9080 --dir "$DIR" | tail -2
echo "real Mesos ready: $(curl -s http://127.0.0.1:9080/version)"
