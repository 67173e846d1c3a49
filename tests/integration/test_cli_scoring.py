"""`credit-points score` end to end as a user runs it: a real process, a registered model, a file with bad rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .cli import run_cli

pytestmark = pytest.mark.slow


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
    result = run_cli(
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
    again = run_cli(
        ["score", "--model", "models:/credit-points@challenger", "--in", str(src), "--out", str(out2)],
        trained_model.env(),
    )
    pd.testing.assert_frame_equal(decided, pd.read_parquet(out2))
    # and without --errors the bad rows are not lost: they go beside the decisions, and the output says where
    default_errors = tmp_path / "decisions_one_chunk.errors.csv"
    assert set(pd.read_csv(default_errors)["row"]) == {11, 21}
    assert str(default_errors) in "".join(again.stdout.split())  # (the console folds long paths)


def _latest(trained_model, n: int) -> pd.DataFrame:
    frame = trained_model.applicants
    latest = frame[frame["as_of_date"].dt.year == 2024].head(n).drop(columns=["default_12m"])
    return latest.reset_index(drop=True)


def _score(trained_model, src: Path, tmp_path: Path, *extra: str) -> tuple[Any, Path, Path]:
    out, errors = tmp_path / f"{src.stem}-decisions.parquet", tmp_path / f"{src.stem}-errors.csv"
    result = run_cli(
        ["score", "--model", "models:/credit-points@challenger", "--in", str(src), "--out", str(out),
         "--errors", str(errors), *extra],
        trained_model.env(),
    )  # fmt: skip
    return result, out, errors


def test_a_file_without_a_nullable_column_is_scored_as_the_api_takes_the_field_left_out(
    trained_model, tmp_path: Path
) -> None:
    # given applicants without the nullable column equity_financing_3y (the API accepts it left out)
    frame = _latest(trained_model, 20).drop(columns=["equity_financing_3y"])
    src = tmp_path / "no_equity.csv"
    frame.to_csv(src, index=False)
    # when scored, then every row is decided
    result, out, _ = _score(trained_model, src, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(pd.read_parquet(out)) == 20


@pytest.mark.parametrize("kind", ["header_only", "all_bad"])
def test_a_run_with_no_good_row_still_writes_its_output_with_the_schema(
    trained_model, tmp_path: Path, kind: str
) -> None:
    # given a header-only file, or a file whose every row is bad
    frame = _latest(trained_model, 5)
    if kind == "all_bad":
        frame["revenue"] = -1.0
    else:
        frame = frame.iloc[:0]
    src = tmp_path / f"{kind}.csv"
    frame.to_csv(src, index=False)
    # when scored
    result, out, errors = _score(trained_model, src, tmp_path)
    # then the output exists, holds no row, and has the decision columns; the errors file exists too
    assert result.returncode == (1 if kind == "all_bad" else 0), result.stderr[-2000:]
    decided = pd.read_parquet(out)
    assert len(decided) == 0
    assert {"row", "firm_id", "points_total", "prob_default", "limit", "decision"} <= set(decided.columns)
    assert len(pd.read_csv(errors)) == (5 if kind == "all_bad" else 0)


def test_unknown_and_outcome_columns_are_refused_or_dropped_and_listed(trained_model, tmp_path: Path) -> None:
    frame = _latest(trained_model, 10)
    # given a bank's extract with two internal columns
    extract = frame.assign(branch_code="CS01", officer_note="x")
    src = tmp_path / "extract.csv"
    extract.to_csv(src, index=False)
    # when scored as is, then it is refused naming them, and nothing is written
    result, out, _ = _score(trained_model, src, tmp_path)
    assert result.returncode != 0 and "branch_code" in result.stderr and "officer_note" in result.stderr
    assert not out.exists()
    # when scored with --drop-unknown-columns, then they are dropped, listed, and the rows decided
    result, out, _ = _score(trained_model, src, tmp_path, "--drop-unknown-columns")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "branch_code" in result.stdout and "officer_note" in result.stdout
    decided = pd.read_parquet(out)
    assert len(decided) == 10 and "branch_code" not in decided.columns
    # and an outcome column is refused even then: it is never an input of a decision
    leaky = frame.assign(default_12m=0)
    src = tmp_path / "leaky.csv"
    leaky.to_csv(src, index=False)
    result, out, _ = _score(trained_model, src, tmp_path, "--drop-unknown-columns")
    assert result.returncode != 0 and "default_12m" in result.stderr and not out.exists()


def test_a_row_from_a_zone_the_model_does_not_know_is_a_bad_row(trained_model, tmp_path: Path) -> None:
    # given a portfolio with one firm from a zone outside the model's reference population
    frame = _latest(trained_model, 10)
    known = frame.loc[0, "zone"]
    frame.loc[3, "zone"] = "atlantis_hitech"
    src = tmp_path / "zones.csv"
    frame.to_csv(src, index=False)
    # when scored, then that row is reported at its zone, naming the known zones, and the rest decided
    result, out, errors = _score(trained_model, src, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    problems = pd.read_csv(errors)
    assert problems[["row", "field"]].values.tolist() == [[4, "zone"]]
    assert known in problems.loc[0, "reason"]
    assert sorted(pd.read_parquet(out)["row"]) == [1, 2, 3, 5, 6, 7, 8, 9, 10]
