"""Benchmark of ``score --audit``: batch decisions recorded in the audit store, against ``score`` without it.

Run: ``.venv/bin/python benchmarks/bench_score_audit.py [--rows N] [--audit-url URL] [--json]``. Prints a
table and, last, one line ``RESULT {json}`` that ``benchmarks/run_all.py`` reads.

In one process, on one file (100,000 rows by default) and one model:

1. ``score_file`` without ``--audit`` (the baseline);
2. ``score_file`` with ``--audit`` into a fresh store (SQLite file by default, WAL, ``synchronous=FULL``):
   every row encoded as the API's record, chained and committed;
3. the same run again: every row is found by its key, nothing is written;
4. its parts: building the records row by row as the API does (``decision_records`` + ``canonical_json``,
   on a 5,000-row sample, scaled), the column-wise encoder alone, and the database's own cost of
   inserting the same bytes with the bare driver (``sqlite3.executemany``, one transaction), the floor
   any audited run pays.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import build_model, write_inputs  # noqa: E402


def run(rows: int, audit_url: str | None, work: Path) -> dict[str, Any]:
    import pandas as pd

    from credit_points.audit.store import AuditStore
    from credit_points.bundle import load_bundle
    from credit_points.config import canonical_json
    from credit_points.engine import ModelIdentity
    from credit_points.pipelines.score import BatchAudit, score_file, validate_for
    from credit_points.record_text import encode_records
    from credit_points.records import decision_records, input_records_of

    bundle = build_model(work, n_firms=3000, seed=5)
    data = write_inputs(work, [rows], seed=5)[rows]
    engine = load_bundle(bundle)
    engine.set_threads(2)
    # a registry version, as --audit requires (the bundle is loaded in place here)
    engine.identity = ModelIdentity("credit-points", "1", engine.identity.artifact_hash, "bench")
    url = audit_url or f"sqlite:///{work / 'audit.db'}"
    store = AuditStore(url, table_prefix=f"bench{os.getpid()}_" if "postgresql" in url else "")
    store.create_schema()
    out: dict[str, Any] = {"rows": rows, "store": store.dialect}
    try:
        start = time.perf_counter()
        score_file(engine, data, work / "plain.parquet")
        out["score_s"] = time.perf_counter() - start
        start = time.perf_counter()
        summary = score_file(engine, data, work / "audited.parquet", audit=BatchAudit(store, "bench-1"))
        out["score_audit_s"] = time.perf_counter() - start
        out["audited_rows"] = summary.audited_new
        start = time.perf_counter()
        again = score_file(engine, data, work / "again.parquet", audit=BatchAudit(store, "bench-2"))
        out["rerun_s"] = time.perf_counter() - start
        out["rerun_added"] = again.audited_new
        start = time.perf_counter()
        out["verify_ok"] = store.verify().ok
        out["verify_s"] = time.perf_counter() - start
    finally:
        if store.dialect == "postgresql":
            store.drop_schema()
        store.dispose()
    out["audit_over_score"] = out["score_audit_s"] / out["score_s"]
    out["rerun_over_score"] = out["rerun_s"] / out["score_s"]

    # the parts, on decided rows of the same file
    frame = pd.read_parquet(data)
    good, _ = validate_for(engine, frame, str(data))
    decided = engine.decide(good)
    start = time.perf_counter()
    encoded = encode_records(engine, decided)
    out["encode_s"] = time.perf_counter() - start
    sample = decided.head(5000)
    inputs = [json.loads(t)["input"] for t in encoded.texts[:5000]]
    start = time.perf_counter()
    per_row = [
        canonical_json(r) for r in decision_records(engine, sample, input_records_of(inputs, engine.fields))
    ]
    out["per_row_records_s"] = (time.perf_counter() - start) * len(decided) / len(sample)
    assert per_row == encoded.texts[:5000]
    out["record_bytes_mean"] = sum(map(len, encoded.texts)) / len(encoded.texts)
    db = work / "bare.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, record_json TEXT, record_sha256 TEXT)")
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO t VALUES (?, ?, ?)",
        zip(range(len(encoded)), encoded.texts, encoded.record_sha256, strict=True),
    )
    conn.execute("COMMIT")
    out["bare_sqlite_insert_s"] = time.perf_counter() - start
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--audit-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-score-audit-") as tmp:
        out = run(args.rows, args.audit_url, Path(tmp))
    print(f"score --audit on {out['rows']:,} rows ({out['store']} audit store)")
    print(f"  score without --audit        {out['score_s']:8.2f} s")
    print(f"  score --audit (fresh store)   {out['score_audit_s']:8.2f} s   {out['audit_over_score']:.2f}x")
    print(f"  score --audit again (0 new)   {out['rerun_s']:8.2f} s   {out['rerun_over_score']:.2f}x")
    print(f"  audit verify, whole chain     {out['verify_s']:8.2f} s   ok={out['verify_ok']}")
    print(f"  parts: records row by row (API path, scaled)   {out['per_row_records_s']:8.2f} s")
    print(f"         column-wise encoder                     {out['encode_s']:8.2f} s")
    print(f"         bare sqlite3 insert of the same bytes   {out['bare_sqlite_insert_s']:8.2f} s"
          f"   ({out['record_bytes_mean'] / 1024:.1f} KiB a record)")  # fmt: skip
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
