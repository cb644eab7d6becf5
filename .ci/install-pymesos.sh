#!/usr/bin/env bash
# Install pymesos 0.3.15 into the active Python (`python` on PATH, or $PYTHON).
# http-parser's C extension does not build on Python 3.11+, so there we build
# http-parser 0.9.0 from its sdist with the extension switched off (its
# setup.py calls run_setup(with_binary)); pymesos then uses
# http_parser.pyparser. Idempotent: does nothing when pymesos already imports.
set -euo pipefail
PY="${PYTHON:-python}"

if "$PY" -c 'import pymesos, http_parser.pyparser' 2>/dev/null \
    && [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("pymesos"))')" = "0.3.15" ]; then
    echo "pymesos 0.3.15 already installed"
    exit 0
fi

if "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    "$PY" -m pip download -q --no-deps --no-binary :all: http-parser==0.9.0 -d "$work"
    tar -xzf "$work"/http-parser-0.9.0.tar.gz -C "$work"
    sed -i 's/^    run_setup(not IS_PYPY)$/    run_setup(False)/' "$work"/http-parser-0.9.0/setup.py
    grep -q '^    run_setup(False)$' "$work"/http-parser-0.9.0/setup.py
    "$PY" -m pip install -q "$work"/http-parser-0.9.0
fi
"$PY" -m pip install -q pymesos==0.3.15

# pymesos imports http_parser.http, which takes the C parser when it exists;
# on 3.11+ it must be the pure-Python one.
"$PY" - <<'PYEOF'
import sys

import http_parser.http
import pymesos.process  # noqa: F401  # the module that parses the event stream

parser = http_parser.http.HttpParser.__module__
if sys.version_info >= (3, 11):
    assert parser == "http_parser.pyparser", parser
print("pymesos 0.3.15 ok; http_parser:", parser)
PYEOF
