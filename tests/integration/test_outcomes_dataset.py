"""`outcomes dataset`: audited inputs as decided, joined to the outcomes that matured since.

End to end on generated data through the real command line (`score --audit` → `outcomes simulate --audit`
→ `outcomes import` → `outcomes dataset`), and the leakage case in process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_points.audit.outcomes import ImportRecord, OutcomeStore
from credit_points.audit.store import AuditStore
from credit_points.pipelines.outcomes import build_dataset

from .cli import run_cli

pytestmark = pytest.mark.slow


def test_generated_loop_reproduces_the_truth_for_every_matured_booked_loan(
    trained_model, tmp_path: Path
) -> None:
    # Given the panel's last year scored with --audit, its approvals booked and performing as the truth says
    frame = trained_model.applicants
    latest = frame[frame["as_of_date"].dt.year == 2024].head(400).drop(columns=["default_12m"])
    src = tmp_path / "applicants.parquet"
    latest.to_parquet(src)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    env = trained_model.env()
    model = f"models:/credit-points/{trained_model.version}"
    steps = [
        ["score", "--model", model, "--in", str(src), "--out", str(tmp_path / "d.parquet"), "--audit",
         "--audit-url", url],
        ["outcomes", "simulate", "--truth", str(trained_model.data_dir / "truth.parquet"), "--audit",
         "--audit-url", url, "--out", str(tmp_path / "performance.parquet")],
        ["outcomes", "import", "--file", str(tmp_path / "performance.parquet"), "--audit-url", url,
         "--today", "2030-01-01"],
        ["outcomes", "dataset", "--out", str(tmp_path / "dataset.parquet"), "--audit-url", url, "--model", model],
    ]  # fmt: skip
    for args in steps:
        result = run_cli(args, env)
        assert result.returncode == 0, f"{args[:2]}: {result.stdout}{result.stderr}"

    # Then every matured row carries the truth's outcome of that firm-year, and only booked loans have one
    dataset = pd.read_parquet(tmp_path / "dataset.parquet")
    decided = pd.read_parquet(tmp_path / "d.parquet")
    assert len(dataset) == len(decided) and set(dataset["decision_id"]) == set(decided["decision_id"])
    truth = pd.read_parquet(trained_model.data_dir / "truth.parquet")
    truth["as_of_date"] = truth["as_of_date"].dt.strftime("%Y-%m-%d")
    matured = dataset[dataset["outcome"] == "matured"].merge(
        truth, on=["firm_id", "as_of_date"], suffixes=("", "_t")
    )
    booked = pd.read_parquet(tmp_path / "performance.parquet")["decision_id"].nunique()
    assert len(matured) == booked > 0
    assert (matured["default_12m"].astype(int) == matured["default_12m_t"].astype(int)).all()
    assert (dataset.loc[dataset["outcome"] == "matured", "decision"] == "approve").all()
    assert dataset.loc[dataset["decision"] != "approve", "outcome"].eq("no_outcome").all()
    assert dataset["default_12m"].isna().sum() == (dataset["outcome"] != "matured").sum()
    # and the points and PD are those the decision used, from its stored record
    joined = dataset.merge(decided, on="decision_id", suffixes=("", "_file"))
    assert (joined["prob_default_decided"] == joined["prob_default"]).all()
    assert (joined["points_total_decided"] == joined["points_total"]).all()
    # the offer as decided: product (empty when none), limit and expected loss
    assert (joined["product_decided"].fillna("") == joined["product"].fillna("")).all()
    for part in ("limit", "expected_loss"):
        assert np.allclose(joined[f"{part}_decided"], joined[part], rtol=0, atol=0, equal_nan=True), part
    parts = [
        c.removesuffix("_decided")
        for c in dataset.columns
        if c.startswith("points_") and c.endswith("_decided")
    ]
    assert {
        "points_core",
        "points_bonus",
        "points_deductions",
        "points_cat_tech",
        "points_cat_growth",
    } <= set(parts)
    for name in parts:
        assert (joined[f"{name}_decided"] == joined[name]).all(), name
    assert set(joined["points_config_hash"]) == {joined["points_config_hash"].iloc[0]}


def _record(firm: str, day: str, revenue: float, decision: str = "approve") -> dict:
    return {"firm_id": firm, "as_of_date": day, "decision": decision,
            "input": {"firm_id": firm, "as_of_date": day, "revenue": revenue},
            "points": {"total": revenue / 1e6, "stage": "growth"}, "risk": {"prob_default": 0.01, "grade": "A2"}}  # fmt: skip


def test_a_field_that_changed_after_the_decision_does_not_leak_into_its_row(tmp_path: Path) -> None:
    # Given a firm decided in 2023 and again in 2024 with a larger revenue, and the 2023 application decided
    # a second time after its loan was booked, with the later revenue
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    firm = "91320200MAAAAAAAA1"
    first = store.append_decision(_record(firm, "2023-03-01", 5e6), request_id="r", client_id="c")
    store.append_decision(_record(firm, "2024-03-01", 9e6), request_id="r", client_id="c")
    store.append_decision(_record(firm, "2023-03-01", 9e6, "decline"), request_id="r", client_id="c")
    outcomes = OutcomeStore(store)
    outcomes.create_schema()
    closing = {"decision_id": first.decision_id, "firm_id": firm, "as_of_date": "2023-03-01",
               "observation_date": "2024-03-01", "status": "current", "default_12m": 0, "file_sha256": "1" * 64}  # fmt: skip
    outcomes.append(ImportRecord("1" * 64, "performance", "p.csv", "2025-01-01", 1, 1, 0, 0), [closing])

    # When the dataset is built
    dataset = build_dataset(store).set_index("as_of_date")

    # Then the 2023 row is the booked decision with the revenue known in 2023, and its matured outcome
    assert dataset.loc["2023-03-01", "decision_id"] == first.decision_id
    assert dataset.loc["2023-03-01", "revenue"] == 5e6 and dataset.loc["2023-03-01", "outcome"] == "matured"
    assert (
        dataset.loc["2024-03-01", "revenue"] == 9e6 and dataset.loc["2024-03-01", "outcome"] == "no_outcome"
    )
    # and a window keeps only the decisions dated in it
    assert list(build_dataset(store, since=pd.Timestamp("2024-01-01").date())["as_of_date"]) == ["2024-03-01"]


def test_train_learns_from_the_outcomes_dataset_and_records_what_it_was_built_from(
    trained_model, tmp_path: Path
) -> None:
    # Given the generated bank's historical book and its performance imported, and the training table
    import json

    import mlflow

    # and the bank's applications of the years after it decided by the registered model (--audit), booked
    # and performing
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    env = trained_model.env()
    data = trained_model.data_dir
    out = tmp_path / "training.parquet"
    frame = trained_model.applicants
    latest = frame[frame["as_of_date"].dt.year >= 2023].drop(columns=["default_12m"])
    latest.to_parquet(tmp_path / "latest.parquet")
    model = f"models:/credit-points/{trained_model.version}"
    for args in (
        [
            "score",
            "--model",
            model,
            "--in",
            str(tmp_path / "latest.parquet"),
            "--out",
            str(tmp_path / "d.parquet"),
            "--audit",
            "--audit-url",
            url,
        ],
        [
            "outcomes",
            "simulate",
            "--truth",
            str(data / "truth.parquet"),
            "--audit",
            "--audit-url",
            url,
            "--out",
            str(tmp_path / "audited_performance.parquet"),
        ],
        [
            "outcomes",
            "import",
            "--file",
            str(tmp_path / "audited_performance.parquet"),
            "--audit-url",
            url,
            "--today",
            "2030-01-01",
        ],
        ["outcomes", "import", "--history", str(data / "historical_decisions.parquet"), "--audit-url", url],
        [
            "outcomes",
            "import",
            "--file",
            str(data / "performance.parquet"),
            "--audit-url",
            url,
            "--today",
            "2030-01-01",
        ],
        ["outcomes", "dataset", "--out", str(out), "--audit-url", url],
    ):
        result = run_cli(args, env)
        assert result.returncode == 0, f"{args[:2]}: {result.stdout}{result.stderr}"
    dataset = pd.read_parquet(out)
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
    assert {f["kind"] for f in manifest["outcome_files"]} == {"history", "performance"}
    matured = dataset[dataset["outcome"] == "matured"]
    from_audit = int((matured["source"] == "audit").sum())
    assert from_audit > 0 and (matured["source"] == "history").sum() > 0

    # When a model is trained on it (under another alias: the session's challenger stays)
    result = run_cli(["train", "--data", str(out), "--alias", "from-outcomes"], env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr

    # Then only the matured rows were learned from, and the run names the outcome files it learned from
    left_out = int((dataset["outcome"] != "matured").sum())
    assert f"{left_out:,} application(s) without a matured outcome left out" in result.stdout
    # (both URIs: an earlier test in this process may have pointed the process-wide registry elsewhere)
    uri = trained_model.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("credit-points", "from-outcomes")
    run = client.get_run(version.run_id)
    assert run.data.tags["data.kind"] == "outcomes dataset"
    assert set(run.data.tags["data.outcome_files"].split(",")) == {
        f["file_sha256"][:12] for f in manifest["outcome_files"]
    }
    assert run.data.metrics["rows_without_matured_outcome"] == left_out
    # and the audited rows learned the points they were decided with (same points configuration); the
    # historical book's points were recomputed
    assert run.data.metrics["points_as_decided_rows"] == from_audit
    assert run.data.metrics["points_recomputed_rows"] == len(matured) - from_audit
    assert f"points as decided for {from_audit:,} row(s)" in result.stdout
