"""`credit-points score` end to end as a user runs it: a real process, a registered model, a file with bad rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credit_points.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_given_a_file_with_bad_rows_when_scored_then_good_rows_are_decided_and_bad_rows_reported(
    trained_model, tmp_path: Path
) -> None:
    # Given 300 applicants of the latest year, two of them broken in different ways
    frame = trained_model.applicants
    frame = (
        frame[frame["as_of_date"].dt.year == 2024]
        .head(300)
        .drop(columns=["default_12m"])
        .reset_index(drop=True)
    )
    frame["revenue"] = frame["revenue"].astype(object)
    frame.loc[10, "revenue"] = -5.0
    frame.loc[20, "firm_id"] = frame.loc[20, "firm_id"][:-1] + (
        "0" if frame.loc[20, "firm_id"][-1] != "0" else "1"
    )
    src = tmp_path / "applicants.csv"
    frame.to_csv(src, index=False)
    out, errors = tmp_path / "decisions.parquet", tmp_path / "errors.csv"

    # When scored in chunks of 64 rows with the registered challenger
    result = _cli(
        ["score", "--model", "models:/credit-points@challenger", "--in", str(src), "--out", str(out),
         "--errors", str(errors), "--chunk-rows", "64"],
        trained_model.env(),
    )  # fmt: skip

    # Then the bad rows are reported with row, field and reason; every other row is decided
    assert result.returncode == 1, result.stderr
    problems = pd.read_csv(errors)
    assert set(problems["row"]) == {11, 21}
    assert set(problems["field"]) == {"revenue", "firm_id"}
    decided = pd.read_parquet(out)
    assert len(decided) == 298
    assert set(decided["row"]) == set(range(1, 301)) - {11, 21}
    assert decided["decision"].isin(["approve", "refer", "decline"]).all()
    assert "approval" in result.stdout and "portfolio by stage" in result.stdout

    # And the same rows scored in one chunk give identical decisions (chunking changes nothing)
    out2 = tmp_path / "decisions_one_chunk.parquet"
    _cli(
        ["score", "--model", "models:/credit-points@challenger", "--in", str(src), "--out", str(out2)],
        trained_model.env(),
    )
    pd.testing.assert_frame_equal(decided, pd.read_parquet(out2))
