"""The getting-started notebook runs top to bottom (its cells assert what they show), and ships without outputs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, "a notebook without code"
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "clear the outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: Path) -> None:
    nbformat = pytest.importorskip("nbformat", reason="notebook tooling (nbformat) not installed")
    nbclient = pytest.importorskip("nbclient", reason="notebook tooling (nbclient) not installed")
    notebook = nbformat.read(path, as_version=4)
    with warnings.catch_warnings():
        # jupyter_client announces its own path migrations; they say nothing about the notebook
        warnings.simplefilter("ignore", DeprecationWarning)
        # the kernel starts in the repository root, so it imports this checkout's metaxy
        client = nbclient.NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(ROOT)}})
        client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
