"""predict_proba throughput of PDClassifier on 1M rows next to raw ``Booster.predict`` on the same rows.

The ratio (wrapper time / booster time) is the wrapper's overhead; the target is ≤ 1.3 for the booster-only
model. Both use the same booster and the same ``num_threads``; times are the median of ``--repeats`` runs.
The ``blend`` row (booster weight 0.5 with the WoE scorecard) shows the cost of the scorecard part on top.

Run: ``.venv/bin/python benchmarks/bench_predict.py [--rows 1000000] [--threads 2] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from credit_points.pd_model.classifier import PDClassifier
from credit_points.pd_model.config import load_pd_config
from credit_points.pd_model.scorecard import WoEScorecard


def _data(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    X[rng.random((n, k)) < 0.03] = np.nan
    logit = (
        -3 + X[:, :6] @ np.array([0.8, -0.6, 0.5, 0.4, -0.3, 0.2]) + 0.3 * np.nan_to_num(X[:, 6] * X[:, 7])
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-np.nan_to_num(logit)))).astype(int)
    return X, y


def _median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--quick", action="store_true", help="100,000 rows, one repeat (for make bench --quick)"
    )
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats = 100_000, 1
    cfg = load_pd_config("default")
    k = len(cfg.feature_names)
    X_fit, y_fit = _data(100_000, k, seed=0)
    X, _ = _data(args.rows, k, seed=1)
    results = {}
    models = {
        "booster": PDClassifier.from_config(
            cfg, scorecard=None, monotone_constraints=None, num_threads=args.threads
        ),
        "blend": PDClassifier.from_config(
            cfg,
            scorecard=WoEScorecard(),
            blend_weights=(0.5,),
            monotone_constraints=None,
            num_threads=args.threads,
        ),
    }
    for name, model in models.items():
        model.fit(X_fit, y_fit)
        booster = model.booster_
        raw = _median_time(lambda b=booster: b.predict(X, num_threads=args.threads), args.repeats)
        ours = _median_time(lambda m=model: m.predict_proba(X), args.repeats)
        results[name] = {
            "rows": args.rows,
            "threads": args.threads,
            "trees": booster.num_trees(),
            "booster_rows_per_s": args.rows / raw,
            "predict_proba_rows_per_s": args.rows / ours,
            "ratio": ours / raw,
        }
    summary = {
        "rows": args.rows,
        "booster_rows_per_s": results["booster"]["booster_rows_per_s"],
        "predict_proba_rows_per_s": results["booster"]["predict_proba_rows_per_s"],
        "predict_proba_over_booster_ratio": results["booster"]["ratio"],
        "blend_predict_proba_rows_per_s": results["blend"]["predict_proba_rows_per_s"],
        "blend_over_booster_ratio": results["blend"]["ratio"],
    }
    if args.json:
        print(json.dumps(results, indent=2))
        print("RESULT " + json.dumps(summary))
        return
    print("| model | rows | threads | trees | Booster.predict rows/s | predict_proba rows/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['rows']:,} | {r['threads']} | {r['trees']} | {r['booster_rows_per_s']:,.0f} | "
            f"{r['predict_proba_rows_per_s']:,.0f} | {r['ratio']:.2f} |"
        )
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
