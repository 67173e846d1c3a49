"""Benchmark of ``monitor``: one window over a large audit store (SQLite by default).

Run: ``.venv/bin/python benchmarks/bench_monitor.py [--decisions N] [--overrides K] [--audit-url URL]``.
Prints a table and, last, one line ``RESULT {json}`` that ``benchmarks/run_all.py`` reads.

Setup (timed apart, not the figure): the store of ``bench_outcomes_dataset.py`` — N audited decisions of
one model version, their approvals booked and their outcomes imported — plus K officers' overrides, and a
monitoring reference for the version (its training rows as served). The figure: ``monitor_window`` over
every decision (reading the decisions and outcomes, PSI/CSI of every feature, back-test, book and override
analysis), then the two reports, against ``build_dataset`` alone — the read every monitor needs — in the
same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_outcomes_dataset import audited_store, drop_store  # noqa: E402


def reference_of(engine: Any, work: Path) -> dict[str, Any]:
    """The version's monitoring reference: its training rows as the engine serves them."""
    import pandas as pd

    from credit_points.pd_model.validation import monitoring_reference
    from credit_points.pipelines.train import with_served_points

    served = with_served_points(pd.read_parquet(work / "train_joined.parquet"), engine)
    features = engine.features(served)
    risk = engine.predict(served, features)
    return monitoring_reference(risk["prob_default"].to_numpy(), risk["grade"].to_numpy(), features)


def run(decisions: int, overrides: int, audit_url: str | None, work: Path) -> dict[str, Any]:
    from credit_points.pipelines.monitor import monitor_window
    from credit_points.pipelines.outcomes import build_dataset
    from credit_points.reports.monitoring import write_monitoring_reports

    out: dict[str, Any] = {"decisions": decisions, "overrides": overrides}
    engine, store = audited_store(decisions, audit_url, work, out)
    try:
        engine.model_card = {"monitoring_reference": reference_of(engine, work)}
        start = time.perf_counter()
        declined = [r.decision_id for r in store.iter_rows(chunk_size=5000) if r.decision == "decline"]
        for did in declined[:overrides]:
            store.append_override(did, reason="relationship", officer="bench", scope="decision",
                                  new_values={"decision": "approve", "limit": 500_000})  # fmt: skip
        out["setup_overrides_s"] = time.perf_counter() - start
        start = time.perf_counter()
        dataset = build_dataset(store, model_version="1")
        out["dataset_s"] = time.perf_counter() - start
        out["dataset_rows"] = len(dataset)
        del dataset
        start = time.perf_counter()
        result = monitor_window(store, engine)
        out["monitor_s"] = time.perf_counter() - start
        start = time.perf_counter()
        write_monitoring_reports(result.as_dict(), work)
        out["reports_s"] = time.perf_counter() - start
        out["status"] = result.status
        out["monitored"] = result.decisions
        out["matured"] = result.backtest.get("matured", 0)
        out["features"] = len(result.stability)
    finally:
        drop_store(store)
    out["total_s"] = out["monitor_s"] + out["reports_s"]
    out["monitor_over_dataset"] = out["monitor_s"] / out["dataset_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--overrides", type=int, default=2_000)
    parser.add_argument("--audit-url", default=None, help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        out = run(args.decisions, args.overrides, args.audit_url, Path(tmp))
    print(f"monitor over {out['decisions']:,} audited decisions ({out['store']} audit store)")
    print(f"  setup: score --audit {out['setup_score_audit_s']:.1f} s; simulate + import {out['setup_outcomes_s']:.1f} s "
          f"({out['booked']:,} loans); {out['overrides']:,} overrides {out['setup_overrides_s']:.1f} s")  # fmt: skip
    print(f"  outcomes dataset of the version (the read)  {out['dataset_s']:8.1f} s")
    print(f"  monitor_window                              {out['monitor_s']:8.1f} s   "
          f"{out['monitor_over_dataset']:.2f}x   ({out['monitored']:,} decisions, {out['features']} indices, "
          f"{out['matured']:,} matured; {out['status']})")  # fmt: skip
    print(f"  reports (zh + en)                           {out['reports_s']:8.1f} s")
    print(f"  monitor, end to end                         {out['total_s']:8.1f} s")
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
