"""Benchmark of one applicant alone: ``decide`` on a one-row frame and the API's dict → record path.

Run: ``.venv/bin/python benchmarks/bench_decide_one.py [--model URI] [--calls N] [--json]``. With ``--model``
the engine is loaded as the service loads it (``pipelines.models.load_engine``, honouring
``CREDIT_POINTS_HOME``); without it a model is trained on a generated panel first (as ``bench_engine.py``
does). Prints a table and, last, one line ``RESULT {json}``.

Measured in one process on the same engine, one LightGBM thread, each call timed alone (median, p99):

- ``decide`` on a one-row frame (reason codes with TreeSHAP on adverse rows, as the API does);
- ``records.decide_records(engine, [dict])``: validated dict → typed frame → decide → decision record
  (the API's path; an earlier checkout that kept it as ``DecisionEngine.decide_records`` is timed there);
- ``validate``: the API's check of one applicant dict (strict JSON types, then the catalogue's value
  rules, ``datasets.rules``), which runs before the decision;
- the floor: raw ``Booster.predict`` on one row, and raw ``pred_contrib`` on one row.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn: Any, items: list[Any], warm: int = 20) -> dict[str, float]:
    import numpy as np

    for item in items[:warm]:
        fn(item)
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1000.0
    return {"median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99)), "calls": len(items)}


def load(model: str | None, work: Path) -> Any:
    """The engine: loaded from the registry/URI, or trained here on a small generated panel."""
    if model:
        from credit_points.pipelines.models import load_engine

        loaded = load_engine(model)
        return loaded[0] if isinstance(loaded, tuple) else loaded
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_engine import build_model  # the same training as the engine benchmark

    from credit_points.bundle import load_bundle

    return load_bundle(build_model(work, n_firms=3000, seed=0))


def measure(engine: Any, calls: int) -> dict[str, Any]:
    import numpy as np

    from credit_points.datasets.generator import generate_panel
    from credit_points.datasets.schema import validate_applicants
    from credit_points.pd_model.features import build_features
    from credit_points.records import input_records

    engine.set_threads(1)
    panel, _ = generate_panel(600, years=(2023, 2024), seed=7)
    good, _ = validate_applicants(panel.drop(columns=["default_12m"], errors="ignore"), check_contract=False)
    good = good.head(max(50, min(calls, len(good)))).reset_index(drop=True)
    frames = [good.iloc[[i % len(good)]] for i in range(calls)]
    dicts = input_records(good, engine.fields.input_names)
    dicts = [dicts[i % len(dicts)] for i in range(calls)]
    decided = engine.decide(good)
    adverse = float(np.mean(decided["reason_codes"].astype(str) != ""))
    joined = [f.join(engine.score_points(f)) for f in frames[:200]]
    rows = [build_features(j, engine.pd_config).to_numpy(dtype="float64") for j in joined]
    booster = engine.classifier.booster_
    to_records, path = records_path(engine)
    from credit_points.api.schemas import applicant_model

    applicant = applicant_model()
    return {
        "rows_adverse_share": adverse,
        "trees": booster.num_trees(),
        "decide": _timed(lambda f: engine.decide(f), frames),
        "decide_records": _timed(lambda d: to_records([d]), dicts),
        "decide_records_path": path,
        "validate": _timed(applicant.model_validate, dicts),
        "raw_predict": _timed(lambda x: booster.predict(x, raw_score=True, num_threads=1), rows),
        "raw_pred_contrib": _timed(lambda x: booster.predict(x, pred_contrib=True, num_threads=1), rows),
    }


def records_path(engine: Any) -> tuple[Any, str]:
    """The API's dict → record function of the installed release, and its name (printed with the figures).

    ``credit_points.records.decide_records`` today; ``DecisionEngine.decide_records`` in releases before it
    moved, so the same script measures an earlier checkout of the package for a before/after comparison.
    """
    try:
        from credit_points.records import decide_records
    except ImportError:
        return engine.decide_records, "DecisionEngine.decide_records"
    return (lambda applicants: decide_records(engine, applicants)), "records.decide_records"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model URI for load_engine (default: train one here)")
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per path")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-decide-one-") as tmp:
        engine = load(args.model, Path(tmp))
        result = measure(engine, args.calls)
    result["model"] = args.model or "trained here (3,000 firms)"
    print(
        f"model: {result['model']}, {result['trees']} trees; adverse share {result['rows_adverse_share']:.0%}; "
        f"dict -> record timed through {result['decide_records_path']}"
    )
    print("| path (one applicant) | median ms | p99 ms |")
    print("|---|---:|---:|")
    for key in ("validate", "decide", "decide_records", "raw_predict", "raw_pred_contrib"):
        print(f"| {key} | {result[key]['median_ms']:.2f} | {result[key]['p99_ms']:.2f} |")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
