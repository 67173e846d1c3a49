"""`credit-points score --engine dask` as a user runs it: a real process, a registered model, a LocalCluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_given_a_registered_model_when_scored_with_the_dask_engine_then_the_cli_writes_parts_errors_and_summary(
    trained_model, tmp_path: Path
) -> None:
    # Given 400 applicants with one broken row, as Parquet
    frame = trained_model.applicants
    frame = (
        frame[frame["as_of_date"].dt.year == 2024]
        .head(400)
        .drop(columns=["default_12m"])
        .reset_index(drop=True)
    )
    frame["revenue"] = frame["revenue"].astype(object)
    frame.loc[99, "revenue"] = -1.0
    src = tmp_path / "applicants.parquet"
    frame.astype({"revenue": str}).to_parquet(src, index=False)
    out, errors = tmp_path / "decisions", tmp_path / "errors.csv"

    # When scored by the CLI on a LocalCluster it starts itself
    result = subprocess.run(
        [sys.executable, "-m", "credit_points.cli", "score", "--engine", "dask", "--model", "models:/credit-points@challenger",
         "--in", str(src), "--out", str(out), "--errors", str(errors)],
        capture_output=True, text=True, env=trained_model.env(), timeout=300,
    )  # fmt: skip

    # Then the bad row is reported by its file row, the others are decided, and the summary is printed
    assert result.returncode == 1, result.stderr[-2000:]
    assert pd.read_csv(errors)["row"].tolist() == [100]
    decided = pd.read_parquet(out)
    assert sorted(decided["row"]) == [r for r in range(1, 401) if r != 100]
    assert (decided["model_version"] == trained_model.version).all()
    assert "portfolio by stage" in result.stdout
