"""The README's Python examples run as written (pydantic-core tests its README too)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_the_readme_has_a_quickstart() -> None:
    assert BLOCKS


def test_every_python_block_runs(capsys: object) -> None:
    for block in BLOCKS:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
