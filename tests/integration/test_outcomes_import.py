"""`credit-points outcomes import` through the real command line, on SQLite and PostgreSQL.

Every refusal the issue names — unmatched, an outcome for a declined applicant, duplicate, future-dated,
contradictory — is reported with row, field, value and reason; the good rows are kept; the same file
imported again changes nothing.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd
import pytest

from credit_points.audit.outcomes import OutcomeStore
from credit_points.audit.store import AuditStore

from ..audit.conftest import pg_url_or_skip
from .cli import run_cli

FIRMS = {k: f"91320200MA{k * 8}" for k in "ABCDEFG"}


@pytest.fixture(params=["sqlite", "postgresql"])
def audited(request: pytest.FixtureRequest, tmp_path: Path):
    """A store with five audited decisions (A, B approved; C declined; D referred then approved by an
    officer; E referred) and the environment that points the command line at it."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "CREDIT_POINTS_HOME": str(tmp_path)}  # fmt: skip
    if request.param == "sqlite":
        url, prefix = f"sqlite:///{tmp_path / 'audit.db'}", ""
    else:
        url, prefix = pg_url_or_skip(), f"o{uuid.uuid4().hex[:12]}_"
        env["CREDIT_POINTS_AUDIT_TABLE_PREFIX"] = prefix
    store = AuditStore(url, table_prefix=prefix)
    store.create_schema()
    ids = {}
    for key, decision in zip("ABCDE", ["approve", "approve", "decline", "refer", "refer"], strict=True):
        record = {"firm_id": FIRMS[key], "as_of_date": "2024-03-01", "decision": decision}
        ids[key] = store.append_decision(record, request_id="r", client_id="c").decision_id
    store.append_override(ids["D"], reason="orders", officer="li", scope="decision",
                          new_values={"decision": "approve", "limit": 200000})  # fmt: skip
    yield store, url, env, ids
    if store.dialect == "postgresql":
        OutcomeStore(store).drop_schema()
        store.drop_schema()
    store.dispose()


def _rows(ids: dict[str, str]) -> pd.DataFrame:
    rows = [
        # A defaults: current at booking, dpd30, written off at 12 months (kept)
        ("A", "2024-03-01", "current", None, None),
        ("A", "2024-07-01", "dpd30", None, None),
        ("A", "2025-03-01", "written_off", 1, None),
        # B matured without default, matched by its decision id (kept)
        ("B", "2024-03-01", "current", None, "B"),
        ("B", "2025-03-01", "current", 0, "B"),
        ("C", "2024-03-01", "current", None, None),  # declined
        ("D", "2024-03-01", "current", None, None),  # referral an officer approved (kept)
        ("E", "2024-03-01", "current", None, None),  # referral nobody approved
        ("F", "2024-03-01", "current", None, None),  # no decision at all
        ("A", "2024-03-01", "current", None, None),  # duplicate of row 1
        ("B", "2099-01-01", "current", None, None),  # future-dated
        ("A", "2025-06-01", "current", None, None),  # current after the write-off
        ("B", "2024-05-01", "current", None, "UNKNOWN"),  # an id no decision has
        ("D", "2024-06-01", "paid", None, None),  # unknown status
        ("D", "2024-05-01", "current", 1, None),  # default with status current
    ]
    return pd.DataFrame(
        [
            {"firm_id": FIRMS[k], "as_of_date": "2024-03-01", "observation_date": obs, "status": status,
             "default_12m": default, "decision_id": ids.get(did, "f" * 32) if did else None}
            for k, obs, status, default, did in rows
        ]
    ).astype({"default_12m": "Int8"})  # fmt: skip


def _import(path: Path, errors: Path, url: str, env: dict[str, str]):
    return run_cli(["outcomes", "import", "--file", str(path), "--errors", str(errors), "--audit-url", url,
                    "--today", "2025-12-31"], env)  # fmt: skip


def test_import_keeps_matched_rows_and_reports_every_refusal(audited, tmp_path: Path) -> None:
    store, url, env, ids = audited
    path, errors = tmp_path / "performance.parquet", tmp_path / "errors.csv"
    _rows(ids).to_parquet(path)

    result = _import(path, errors, url, env)

    assert result.returncode == 1, result.stdout + result.stderr  # rows were refused
    assert "15 row(s): 6 stored, 0 already stored, 9 refused" in result.stdout
    refused = pd.read_csv(errors)
    reasons = dict(zip(refused["row"], refused["reason"], strict=True))
    assert set(reasons) == {6, 8, 9, 10, 11, 12, 13, 14, 15}
    assert "not approved or not booked (decision in force: decline)" in reasons[6]
    assert "not approved or not booked (decision in force: refer)" in reasons[8]
    assert "unmatched" in reasons[9] and "unmatched" in reasons[13]
    assert "duplicate of row 1" in reasons[10]
    assert "future-dated" in reasons[11]
    assert "current after a default" in reasons[12]
    assert "must be one of" in reasons[14] and "contradicts status current" in reasons[15]
    fields = dict(zip(refused["row"], refused["field"], strict=True))
    assert fields[11] == "observation_date" and fields[14] == "status" and fields[13] == "decision_id"
    assert set(refused["firm_id"]) >= {FIRMS["C"], FIRMS["F"]}
    outcomes = OutcomeStore(store)
    assert outcomes.count() == 6
    stored = outcomes.stored(ids.values())
    assert stored[(ids["A"], "2025-03-01")] == ("written_off", 1)
    assert stored[(ids["B"], "2025-03-01")] == ("current", 0)
    assert (ids["D"], "2024-03-01") in stored
    # the audit chain itself is untouched
    assert store.count() == 6 and store.verify().ok

    # When the same file is imported again: nothing changes, and the command says so
    again = _import(path, errors, url, env)
    assert again.returncode == 0 and "already imported" in again.stdout and "nothing changed" in again.stdout
    assert outcomes.count() == 6

    # When a later file repeats a stored row and contradicts another: the first is counted, the second refused
    later = pd.DataFrame(
        [{"firm_id": FIRMS["B"], "as_of_date": "2024-03-01", "observation_date": "2025-03-01", "status": "current",
          "default_12m": 0},
         {"firm_id": FIRMS["A"], "as_of_date": "2024-03-01", "observation_date": "2024-07-01", "status": "dpd90",
          "default_12m": None}]
    ).astype({"default_12m": "Int8"})  # fmt: skip
    later_path = tmp_path / "later.csv"
    later.to_csv(later_path, index=False)
    result = _import(later_path, tmp_path / "later-errors.csv", url, env)
    assert "2 row(s): 0 stored, 1 already stored, 1 refused" in result.stdout, result.stdout + result.stderr
    assert "contradicts the stored row" in pd.read_csv(tmp_path / "later-errors.csv")["reason"].iloc[0]
    assert outcomes.count() == 6


def test_the_outcomes_tables_are_append_only(audited) -> None:
    import sqlalchemy as sa

    from credit_points.audit.outcomes import ImportRecord

    store, _, _, ids = audited
    outcomes = OutcomeStore(store)
    outcomes.create_schema()
    row = {"decision_id": ids["A"], "firm_id": FIRMS["A"], "as_of_date": "2024-03-01",
           "observation_date": "2024-03-01", "status": "current", "default_12m": None, "file_sha256": "0" * 64}  # fmt: skip
    outcomes.append(ImportRecord("0" * 64, "performance", "f.csv", "2025-01-01", 1, 1, 0, 0), [row])
    for table in (outcomes.performance.name, outcomes.imports.name):
        for statement in (f"DELETE FROM {table}", f"UPDATE {table} SET file_sha256 = 'x'"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.exec_driver_sql(statement)
    assert outcomes.count() == 1 and outcomes.imported("0" * 64) is not None


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated panel with the lender's view: historical decisions to 2022, their performance, truth."""
    from credit_points.pipelines.generate import write_panel

    out = tmp_path_factory.mktemp("panel")
    write_panel(out, n_firms=300, years=(2019, 2024), seed=5)
    return out


def test_history_import_lets_the_historical_book_learn_its_own_outcomes(
    audited, panel: Path, tmp_path: Path
) -> None:
    store, url, env, _ = audited
    history = pd.read_parquet(panel / "historical_decisions.parquet")
    # three broken rows: a declined loan marked booked, a repeated application, a negative revenue
    broken = history.head(3).copy()
    broken["as_of_date"] = broken["as_of_date"] - pd.Timedelta(days=1)  # applications of their own
    broken.loc[broken.index[0], ["decision", "booked"]] = ["decline", True]
    broken.loc[broken.index[2], "revenue"] = -5.0
    bad = pd.concat([history, broken.iloc[[0]], history.iloc[[1]], broken.iloc[[2]]], ignore_index=True)
    bad_path, errors = tmp_path / "history.parquet", tmp_path / "history-errors.csv"
    bad.to_parquet(bad_path)

    result = run_cli(["outcomes", "import", "--history", str(bad_path), "--errors", str(errors),
                      "--audit-url", url], env)  # fmt: skip

    assert result.returncode == 1, result.stdout + result.stderr
    # a repeated application refuses both its rows (which one is right cannot be told)
    stored = len(history) - 1
    assert f"{len(bad):,} row(s): {stored:,} stored, 0 already stored, 4 refused" in result.stdout
    refused = pd.read_csv(errors)
    reasons = " | ".join(refused["reason"])
    assert "a loan booked on a decline" in reasons and "duplicate (firm_id, as_of_date)" in reasons
    assert set(refused["row"]) == {2, len(history) + 1, len(history) + 2, len(history) + 3}
    assert "revenue" in set(refused["field"])
    again = run_cli(["outcomes", "import", "--history", str(bad_path), "--audit-url", url], env)
    assert "already imported" in again.stdout

    # performance of the historical book matches its decisions by application; the dataset has the truth
    result = run_cli(["outcomes", "import", "--file", str(panel / "performance.parquet"), "--audit-url", url,
                      "--today", "2030-01-01"], env)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "dataset.parquet"
    assert run_cli(["outcomes", "dataset", "--out", str(out), "--audit-url", url], env).returncode == 0
    dataset = pd.read_parquet(out)
    book = dataset[dataset["source"] == "history"]
    assert len(book) == stored
    history = history.drop(index=1)
    truth = pd.read_parquet(panel / "truth.parquet")
    truth["as_of_date"] = truth["as_of_date"].dt.strftime("%Y-%m-%d")
    matured = book[book["outcome"] == "matured"].merge(
        truth, on=["firm_id", "as_of_date"], suffixes=("", "_t")
    )
    assert len(matured) == int(history["booked"].sum()) > 0
    assert (matured["default_12m"].astype(int) == matured["default_12m_t"].astype(int)).all()
    assert book.loc[~book["decision_id"].isin(matured["decision_id"]), "outcome"].eq("no_outcome").all()
