"""Batch decisions on a Dask LocalCluster: the same decisions as the local engine, true row numbers, summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_points.datasets.schema import validate_applicants
from credit_points.exceptions import DataValidationError
from credit_points.pipelines.score import PortfolioSummary, output_columns

pytestmark = pytest.mark.slow

ROWS = 1200
ROW_GROUP = 300
BROKEN = {8: "revenue", 451: "firm_id", 1003: "employees"}  # 1-based file rows


def _roundtrip(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The frame as Parquet gives it back (so types compare as written)."""
    frame.to_parquet(path, index=False)
    return pd.read_parquet(path)


@pytest.fixture(scope="module")
def applicants(trained_model) -> pd.DataFrame:
    frame = trained_model.applicants
    frame = (
        frame[frame["as_of_date"].dt.year >= 2023]
        .head(ROWS)
        .drop(columns=["default_12m"])
        .reset_index(drop=True)
    )
    frame["revenue"] = frame["revenue"].astype(object)
    frame["employees"] = frame["employees"].astype(object)
    frame.loc[7, "revenue"] = -5.0
    code = frame.loc[450, "firm_id"]
    frame.loc[450, "firm_id"] = code[:-1] + ("0" if code[-1] != "0" else "1")
    frame.loc[1002, "employees"] = "many"
    return frame


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    from credit_points.pipelines.dask_score import dask_client

    with dask_client(n_workers=2, processes=False) as client:
        yield client


@pytest.fixture(scope="module")
def spec(trained_model):
    from credit_points.config import Settings
    from credit_points.engine import ModelIdentity
    from credit_points.pipelines.dask_score import BundleSpec
    from credit_points.pipelines.models import load_engine

    settings = Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    _, resolved = load_engine("models:/credit-points@challenger", settings)
    identity = ModelIdentity(resolved.name, resolved.version, resolved.artifact_hash, resolved.run_id)
    return BundleSpec.from_folder(resolved.bundle_dir, identity)


@pytest.fixture(scope="module")
def scored(applicants, cluster, spec, tmp_path_factory) -> dict[str, object]:
    from credit_points.pipelines.dask_score import score_on_dask

    tmp = tmp_path_factory.mktemp("dask_score")
    src = tmp / "applicants.parquet"
    applicants.astype({"revenue": str, "employees": str}).to_parquet(
        src, index=False, row_group_size=ROW_GROUP
    )
    out, errors = tmp / "decisions", tmp / "errors.csv"
    summary = score_on_dask(cluster, spec, src, out, errors_path=errors, partition_rows=ROW_GROUP)
    return {"summary": summary, "out": out, "errors": errors, "src": src, "tmp": tmp}


def test_given_row_groups_when_scored_on_dask_then_each_partition_equals_the_local_engine_on_the_same_rows(
    trained_model, applicants, scored
) -> None:
    # Given a Parquet file of 4 row groups (one partition each), scored on a 2-worker LocalCluster
    parts = sorted(Path(scored["out"]).glob("part-*.parquet"))
    source = pd.read_parquet(scored["src"])

    # Then there is one decision part per partition
    assert len(parts) == ROWS // ROW_GROUP
    for number, part in enumerate(parts):
        got = pd.read_parquet(part)
        # And each part is exactly what the local engine decides for that partition's good rows
        start = number * ROW_GROUP
        batch = source.iloc[start : start + ROW_GROUP].reset_index(drop=True)
        good, _ = validate_applicants(batch)
        expected = trained_model.engine.decide(good)
        expected.insert(0, "row", good.index.to_numpy() + 1 + start)
        expected = _roundtrip(
            expected[output_columns(expected)], Path(scored["tmp"]) / f"expected-{number}.parquet"
        )
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        for column in ("prob_default", "raw_score", "limit"):
            assert np.array_equal(got[column].to_numpy(), expected[column].to_numpy())


def test_given_broken_rows_when_scored_on_dask_then_errors_name_the_input_file_rows(scored) -> None:
    # When three rows of different partitions are broken
    errors = pd.read_csv(scored["errors"])
    decided = pd.read_parquet(scored["out"])

    # Then the errors file names each by its row in the input file and its field
    assert dict(zip(errors["row"], errors["field"], strict=True)) == BROKEN
    # And every other row is decided exactly once
    assert sorted(decided["row"]) == sorted(set(range(1, ROWS + 1)) - set(BROKEN))


def test_given_a_dask_run_then_the_summary_adds_up_the_written_decisions(scored) -> None:
    summary = scored["summary"]
    decided = pd.read_parquet(scored["out"])
    expected = PortfolioSummary()
    expected.add(decided)

    assert summary.rows == len(decided) == ROWS - len(BROKEN)
    assert summary.bad_rows == len(BROKEN)
    for by in (None, "stage", "product"):
        pd.testing.assert_frame_equal(summary.table(by), expected.table(by), rtol=1e-12)


def test_given_workers_then_the_bundle_is_loaded_once_and_verified_on_each(cluster, spec, scored) -> None:
    from credit_points.pipelines import dask_score

    def loaded() -> list[str]:
        return sorted(dask_score._ENGINES)

    per_worker = cluster.run(loaded)
    assert len(per_worker) == 2
    assert all(hashes == [spec.artifact_hash] for hashes in per_worker.values())


def test_given_a_csv_file_when_scored_on_dask_then_decisions_equal_the_local_engine(
    trained_model, applicants, cluster, spec, scored
) -> None:
    from credit_points.pipelines.dask_score import score_on_dask

    # Given the same applicants as CSV (one partition: one batch)
    tmp = Path(scored["tmp"])
    src = tmp / "applicants.csv"
    applicants.to_csv(src, index=False)

    # When scored on Dask
    summary = score_on_dask(cluster, spec, src, tmp / "from_csv", errors_path=tmp / "errors_csv.parquet")

    # Then the decisions are those of the local engine on the same (good) rows, bit for bit
    got = pd.read_parquet(tmp / "from_csv").sort_values("row").reset_index(drop=True)
    good, _ = validate_applicants(pd.read_csv(src, dtype=str, keep_default_na=False, na_values=[""]))
    expected = trained_model.engine.decide(good)
    expected.insert(0, "row", good.index.to_numpy() + 1)
    expected = _roundtrip(
        expected[output_columns(expected)].reset_index(drop=True), tmp / "expected_csv.parquet"
    )
    for column in (
        "row",
        "prob_default",
        "raw_score",
        "grade",
        "points_total",
        "limit",
        "decision",
        "reason_codes",
    ):
        assert got[column].tolist() == expected[column].tolist(), column
    assert set(pd.read_parquet(tmp / "errors_csv.parquet")["row"]) == set(BROKEN)
    assert summary.bad_rows == len(BROKEN)


def test_given_an_output_folder_with_other_files_when_scored_then_refused(
    cluster, spec, scored, tmp_path: Path
) -> None:
    from credit_points.pipelines.dask_score import score_on_dask

    out = tmp_path / "decisions"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataValidationError, match="not decision parts"):
        score_on_dask(cluster, spec, scored["src"], out)
    assert (out / "notes.txt").read_text() == "keep me"
