"""Benchmark of ``outcomes dataset``: the training table over a large audit store (SQLite by default).

Run: ``.venv/bin/python benchmarks/bench_outcomes_dataset.py [--decisions N] [--audit-url URL]``. Prints a
table and, last, one line ``RESULT {json}`` that ``benchmarks/run_all.py`` reads.

Setup (timed apart, not the figure): a generated panel of N firm-years (distinct applications), decided
with ``score --audit`` into a fresh store, their approvals booked and performing (``outcomes simulate``)
and imported (``outcomes import``). The figure: ``build_dataset`` over the whole store, streamed from
it (the database extracts the parts of each record the table needs) by its default worker processes and
by one process, against reading every row of the store with ``AuditStore.iter_rows`` in one process
(the floor of any single pass over the audit log) in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import build_model  # noqa: E402


def audited_store(decisions: int, audit_url: str | None, work: Path, out: dict[str, Any]) -> tuple[Any, Any]:
    """(engine, store): a model version, and a fresh store holding ``decisions`` audited decisions of it
    with their booked loans' outcomes imported. Setup times and counts go to ``out``."""
    from credit_points.audit.store import AuditStore
    from credit_points.bundle import load_bundle
    from credit_points.datasets.generator import generate_panel
    from credit_points.engine import ModelIdentity
    from credit_points.pipelines.outcomes import decisions_from_audit, import_performance, simulate_outcomes
    from credit_points.pipelines.score import BatchAudit, score_file

    bundle = build_model(work, n_firms=3000, seed=5)
    engine = load_bundle(bundle)
    engine.set_threads(2)
    engine.identity = ModelIdentity("credit-points", "1", engine.identity.artifact_hash, "bench")
    start = time.perf_counter()
    # about 4.4 firm-years a firm (firms founded during the panel start later)
    panel, truth = generate_panel(max(500, decisions // 4 + 1), years=(2019, 2024), seed=9)
    panel = panel.head(decisions)
    truth = truth.head(decisions).assign(default_12m=panel["default_12m"].to_numpy())
    out["decisions"] = len(panel)
    src = work / "applicants.parquet"
    panel.drop(columns=["default_12m"]).to_parquet(src)
    url = audit_url or f"sqlite:///{work / 'audit.db'}"
    store = AuditStore(url, table_prefix=f"bo{os.getpid()}_" if "postgresql" in url else "")
    store.create_schema()
    score_file(engine, src, work / "decided.parquet", audit=BatchAudit(store, "bench"))
    out["setup_score_audit_s"] = time.perf_counter() - start
    start = time.perf_counter()
    rows, summary = simulate_outcomes(decisions_from_audit(store), truth)
    perf = work / "performance.parquet"
    rows.to_parquet(perf)
    imported = import_performance(store, perf, today=summary.observed_until)
    out["setup_outcomes_s"] = time.perf_counter() - start
    out["booked"], out["performance_rows"] = summary.booked, imported.kept
    out["store"] = store.dialect
    return engine, store


def drop_store(store: Any) -> None:
    """Remove a benchmark's tables from PostgreSQL (a SQLite file goes with its folder) and close the store."""
    if store.dialect == "postgresql":
        from credit_points.audit.outcomes import OutcomeStore

        OutcomeStore(store).drop_schema()
        store.drop_schema()
    store.dispose()


def run(decisions: int, audit_url: str | None, work: Path) -> dict[str, Any]:
    from credit_points.pipelines.outcomes import build_dataset

    out: dict[str, Any] = {"decisions": decisions}
    _, store = audited_store(decisions, audit_url, work, out)
    try:
        start = time.perf_counter()
        for _ in store.iter_rows(chunk_size=5000):
            pass
        out["read_all_rows_s"] = time.perf_counter() - start
        start = time.perf_counter()
        serial = build_dataset(store, workers=1)
        out["dataset_one_process_s"] = time.perf_counter() - start
        start = time.perf_counter()
        dataset = build_dataset(store)
        out["dataset_s"] = time.perf_counter() - start
        out["workers"] = min(os.cpu_count() or 1, 4) if store.head()[0] >= 100_000 else 1  # the default
        out["same_table"] = bool(serial.equals(dataset))
        del serial
        out["dataset_rows"] = len(dataset)
        out["matured"] = int((dataset["outcome"] == "matured").sum())
    finally:
        drop_store(store)
    out["dataset_over_read"] = out["dataset_s"] / out["read_all_rows_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--audit-url", default=None, help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outcomes-") as tmp:
        out = run(args.decisions, args.audit_url, Path(tmp))
    print(f"outcomes dataset over {out['decisions']:,} audited decisions ({out['store']} audit store)")
    print(f"  setup: score --audit {out['setup_score_audit_s']:.1f} s; simulate + import {out['setup_outcomes_s']:.1f} s "
          f"({out['booked']:,} loans, {out['performance_rows']:,} performance rows)")  # fmt: skip
    print(f"  read every audit row (iter_rows)     {out['read_all_rows_s']:8.1f} s")
    print(f"  outcomes dataset, one process        {out['dataset_one_process_s']:8.1f} s   "
          f"{out['dataset_one_process_s'] / out['read_all_rows_s']:.2f}x")  # fmt: skip
    print(f"  outcomes dataset ({out['workers']} processes)       {out['dataset_s']:8.1f} s   "
          f"{out['dataset_over_read']:.2f}x   ({out['dataset_rows']:,} rows, {out['matured']:,} matured; "
          f"same table: {out['same_table']})")  # fmt: skip
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
