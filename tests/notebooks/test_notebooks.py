"""Every walkthrough notebook executes top to bottom on small data (they import the package, define no logic)."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.py"))

pytestmark = pytest.mark.slow


def test_notebooks_are_found() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {
        "1.0-innovation-points",
        "2.0-pd-model",
        "3.0-limit-policy",
        "4.0-retraining",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_given_a_notebook_when_executed_then_every_cell_runs(path: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NOTEBOOK_FIRMS", "1500")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("CREDIT_POINTS_HOME", str(tmp_path))
    notebook = jupytext.read(path)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    assert os.environ.get("CREDIT_POINTS_HOME") == str(tmp_path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paired_ipynb_matches_the_py_source(path: Path) -> None:
    paired = path.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} missing: run jupytext --sync {path.name}"
    source = [c.source for c in jupytext.read(path).cells]
    stored = jupytext.read(paired)
    assert [c.source for c in stored.cells] == source
    assert all(not c.get("outputs") for c in stored.cells if c.cell_type == "code"), (
        "outputs must be stripped"
    )
