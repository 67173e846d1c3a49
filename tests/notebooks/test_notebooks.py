"""Every walkthrough notebook executes top to bottom on small data (they import the package, define no logic)."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.py"))
#: the charts each notebook draws (they must show inline in the executed notebook)
CHARTS = {"1.0-innovation-points": 1, "2.0-pd-model": 3, "3.0-limit-policy": 1, "4.0-retraining": 2}

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
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own inline backend, as for a reader
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
    # and every chart shows inline as an image (not a "<Figure size …>" line)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= CHARTS[path.stem], [o.get("data", {}).get("text/plain") for o in outputs]
    figures_as_text = [o for o in outputs if "<Figure size" in str(o.get("data", {}).get("text/plain", ""))]
    assert not [o for o in figures_as_text if "image/png" not in o["data"]]
    if path.stem == "2.0-pd-model":
        # the walkthrough ends with the gate's verdict told: a promotion, or a refusal naming each reason
        told = "".join(
            o.get("text", "") for o in notebook.cells[-1].get("outputs", []) if o.get("name") == "stdout"
        )
        assert told.startswith("model card: OOT AUC"), told
        assert "\npromoted: version" in told or ("not promoted" in told and "threshold" in told), told


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
