"""Every notebook runs top to bottom on a fresh kernel, with no cluster but the simulator,
and every cell that draws shows its picture inline (an ``image/png`` output).

Set ``ARK_NOTEBOOK_FIGURES`` to a directory to keep the pictures as PNG files
(``<notebook>-<cell>.png``) and look at them.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
# A cell that calls pandas' or matplotlib's plotting draws a figure.
DRAWS = re.compile(r"\.plot\b|plt\.(show|subplots|figure)\(")


def images(cell: nbformat.NotebookNode) -> list[bytes]:
    return [
        base64.b64decode(output["data"]["image/png"])
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_pictures(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") for c in code), (
        f"{path.name} was committed with outputs: strip them"
    )
    assert not any("matplotlib.use(" in c.source for c in code), (
        f"{path.name} picks a matplotlib backend: inside Jupyter that hides the inline pictures"
    )
    NotebookClient(
        book, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    drawing = [
        (i, c) for i, c in enumerate(book.cells) if c.cell_type == "code" and DRAWS.search(c.source)
    ]
    assert drawing, f"{path.name} draws nothing"
    keep = os.environ.get("ARK_NOTEBOOK_FIGURES")
    for index, cell in drawing:
        pngs = images(cell)
        assert pngs, f"{path.name} cell {index} draws but shows no image/png:\n{cell.source}"
        for png in pngs:
            assert png.startswith(b"\x89PNG"), f"{path.name} cell {index}: not a PNG"
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for n, png in enumerate(pngs):
                (Path(keep) / f"{path.stem}-{index}-{n}.png").write_bytes(png)
