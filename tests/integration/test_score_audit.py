"""`credit-points score --audit` as a user runs it: batch decisions in the API's hash-chained audit store.

Real processes of the command line, a registered model, a real SQLite file and the test PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from credit_points.audit.store import AuditStore

from .cli import run_cli

pytestmark = pytest.mark.slow


def _applicants(trained_model, tmp_path: Path) -> Path:
    """240 applicants of the latest year, row 8 broken."""
    frame = trained_model.applicants
    frame = frame[frame["as_of_date"].dt.year == 2024].head(240).drop(columns=["default_12m"])
    frame = frame.reset_index(drop=True)
    frame["revenue"] = frame["revenue"].astype(object)
    frame.loc[7, "revenue"] = -5.0
    src = tmp_path / "applicants.csv"
    frame.to_csv(src, index=False)
    return src


def _store(url: str, env: dict[str, str]) -> AuditStore:
    return AuditStore(url, table_prefix=env.get("CREDIT_POINTS_AUDIT_TABLE_PREFIX", ""))


def test_score_audit_records_each_good_row_once_and_replays_bit_exact(
    trained_model, tmp_path: Path, audit_target
) -> None:
    url, env = audit_target
    src = _applicants(trained_model, tmp_path)
    out = tmp_path / "decisions.parquet"
    model = f"models:/credit-points/{trained_model.version}"

    # When the file is scored with --audit (slices of the default size; one chunk of 100 rows at a time)
    result = run_cli(
        ["score", "--model", model, "--in", str(src), "--out", str(out), "--errors", str(tmp_path / "e.csv"),
         "--chunk-rows", "100", "--audit", "--audit-url", url],
        env,
    )  # fmt: skip

    # Then every good row is one chained audit row whose id is in the output; the bad row is not audited
    assert result.returncode == 1, result.stderr  # the bad row is reported
    decided = pd.read_parquet(out)
    assert len(decided) == 239 and list(decided.columns[:2]) == ["row", "decision_id"]
    assert decided["decision_id"].is_unique
    store = _store(url, env)
    assert store.count() == 239 and store.verify().ok
    assert "239 decision(s) recorded, 0 already recorded" in result.stdout
    by_id = {row.decision_id: row for row in store.iter_rows()}
    assert set(by_id) == set(decided["decision_id"])
    # the stored record is the decision in the file, with the API's record shape and indexed columns
    for _, line in decided.sample(20, random_state=1).iterrows():
        row = by_id[line["decision_id"]]
        record = row.record
        assert record["firm_id"] == line["firm_id"] and record["decision"] == line["decision"]
        assert record["risk"]["prob_default"] == line["prob_default"]
        assert record["limit"]["limit"] == line["limit"] == row.limit_amount
        assert row.model_version == trained_model.version and row.client_id == "cli:score"
        assert record["schema"] == "credit-points-decision/1" and record["input_sha256"] == row.input_sha256
    # and audit replay re-decides batch rows exactly as API rows, for each kind of decision
    for kind in ("approve", "refer", "decline"):
        ids = decided.loc[decided["decision"] == kind, "decision_id"]
        if ids.empty:
            continue
        replay = run_cli(["audit", "replay", ids.iloc[0], "--audit-url", url], env)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert "replays identically" in replay.stdout
    verify = run_cli(["audit", "verify", "--audit-url", url], env)
    assert verify.returncode == 0, verify.stderr

    # When the same file is scored again with the same model and policy
    again = tmp_path / "again.parquet"
    result = run_cli(
        ["score", "--model", "models:/credit-points@challenger", "--in", str(src), "--out", str(again),
         "--audit", "--audit-url", url],
        env,
    )  # fmt: skip
    # Then nothing is added and the output carries the same decision ids
    assert "0 decision(s) recorded, 239 already recorded" in result.stdout, result.stdout + result.stderr
    assert store.count() == 239 and store.verify().ok
    assert pd.read_parquet(again)["decision_id"].tolist() == decided["decision_id"].tolist()
    store.dispose()


def test_score_audit_refuses_a_bundle_folder_and_writes_nothing(
    trained_model, tmp_path: Path, audit_target
) -> None:
    # Given the registered model's bundle folder, loaded in place
    url, env = audit_target
    manifest = next(trained_model.home.glob("models/**/MANIFEST.json"))
    src = _applicants(trained_model, tmp_path)
    out = tmp_path / "decisions.parquet"
    # When it is used with --audit
    result = run_cli(
        ["score", "--model", str(manifest.parent), "--in", str(src), "--out", str(out), "--audit",
         "--audit-url", url],
        env,
    )  # fmt: skip
    # Then the run is refused with the reason, nothing is decided and nothing is stored
    assert result.returncode != 0
    assert "registry versions" in result.stdout + result.stderr
    assert not out.exists()
    store = _store(url, env)
    assert store.count() == 0
    store.dispose()
    # and --audit with the Dask engine or other explanations is refused just as clearly
    for extra, reason in ((["--engine", "dask"], "--engine local"), (["--explain", "all"], "adverse")):
        result = run_cli(
            ["score", "--model", "models:/credit-points@challenger", "--in", str(src), "--out", str(out),
             "--audit", "--audit-url", url, *extra],
            env,
        )  # fmt: skip
        assert result.returncode != 0 and reason in result.stdout + result.stderr, result.stderr
    assert not out.exists()
