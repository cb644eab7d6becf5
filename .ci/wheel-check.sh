#!/usr/bin/env bash
# The wheel a user installs: build the abi3 (CPython 3.10+) manylinux2014 wheel
# with zig as the linker (glibc 2.17 symbols, whatever this machine's glibc),
# check its tag as auditwheel reads the binary, then install it into a fresh
# venv of the oldest and of the newest supported Python and run `import ark`
# and the README's quickstart there.
#
# The build is a second release build beside `make install`'s: it targets
# x86_64-unknown-linux-gnu explicitly, so it has a target directory of its own.
# What is checked here is portability (tag, glibc symbols, Pythons), which LTO
# does not change, so by default it builds without fat LTO and in parallel
# codegen units, which is quicker on two cores. For a release wheel, run it
# with LTO=fat CODEGEN_UNITS=1. Set WHEEL to check an already built wheel instead,
# or WHEEL_OUT to a directory to only build the wheel into it (.ci/run builds
# it beside the tests, then checks it with WHEEL).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYENV_VERSIONS="${PYENV_ROOT:-$HOME/.pyenv}/versions"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$VENV"/bin/python -m pip install -q "ziglang>=0.13,<0.14" "auditwheel>=6,<7"
# maturin runs zig as `python -m ziglang`: the venv's python must come first.
export PATH="$PWD/$VENV/bin:$PATH"
wheel="${WHEEL:-}"
if [ -z "$wheel" ]; then
    start=$(date +%s)
    export CARGO_PROFILE_RELEASE_LTO="${LTO:-off}"
    export CARGO_PROFILE_RELEASE_CODEGEN_UNITS="${CODEGEN_UNITS:-16}"
    out="${WHEEL_OUT:-$work/dist}"
    "$VENV"/bin/maturin build --release --zig --compatibility manylinux2014 -q --out "$out"
    echo "wheel-check: wheel built in $(( $(date +%s) - start )) s"
    wheel="$(ls "$out"/*.whl)"
    if [ -n "${WHEEL_OUT:-}" ]; then
        echo "wheel-check: built $wheel (not checked yet)"
        exit 0
    fi
fi
name="$(basename "$wheel")"
echo "wheel-check: $name"
case "$name" in
    ark_mesos-*-cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl) ;;
    *) echo "wheel-check: expected a cp310-abi3 manylinux2014 wheel, got $name" >&2; exit 1 ;;
esac
# The tag in the name is maturin's claim; auditwheel reads the symbols.
"$VENV"/bin/auditwheel show "$wheel" > "$work/audit"
tr -s ' \n' ' ' < "$work/audit" | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"' \
    || { cat "$work/audit" >&2; exit 1; }

# The README's quickstart: its first ```python block.
"$VENV"/bin/python - "$work/quickstart.py" <<'PYEOF'
import re
import sys
from pathlib import Path

readme = Path("README.md").read_text()
quickstart = readme[readme.index("## Quickstart") :]
block = re.search(r"```python\n(.*?)```", quickstart, re.DOTALL)
Path(sys.argv[1]).write_text(block.group(1))
PYEOF

for version in 3.10 3.13; do
    python="$(ls -d "$PYENV_VERSIONS"/"$version".*/bin/python"$version" 2>/dev/null | sort -V | tail -1)"
    [ -x "$python" ] || { echo "wheel-check: no Python $version under $PYENV_VERSIONS" >&2; exit 1; }
    "$python" -m venv "$work/venv-$version"
    venv="$work/venv-$version"
    # The quickstart runs on the embedded simulator: the sim extra.
    "$venv"/bin/python -m pip install -q --disable-pip-version-check "$wheel[sim]"
    (cd "$work" && "$venv"/bin/python -c 'import ark, ark._core; print("wheel-check: import ark ok on", __import__("sys").version.split()[0], ark._core.__file__)')
    (cd "$work" && timeout 120 "$venv"/bin/python quickstart.py > "quickstart-$version.out")
    grep -q "TASK_RUNNING" "$work/quickstart-$version.out"
    echo "wheel-check: README quickstart ok on Python $version"
done
