"""Benchmark of training: ``credit-points train`` end to end on 300,000 firm-years vs sklearn HistGradientBoosting.

Run: ``.venv/bin/python benchmarks/bench_train.py [--quick] [--rows 300000]``. Prints a table and, last, one
line ``RESULT {json}`` for ``benchmarks/run_all.py``.

Steps, each in its own child process (wall seconds and peak RSS):

* ``train``: the whole job as the CLI runs it — read, validate, points by cohort, out-of-time split,
  blend selection on inner folds, calibration, challenger, validation pack, figures, bundle, MLflow run
  (SQLite store in a throwaway home), registry version and alias.
* ``booster``: one LightGBM booster with the configured parameters and monotone constraints on the same
  training rows and features (``n_estimators`` rounds, no early stopping), and its OOT AUC.
* ``hgb`` (the baseline): ``HistGradientBoostingClassifier`` with the matching settings (iterations, leaves,
  learning rate, minimum leaf size, L2, bins, the same monotone constraints) on the same rows, and its OOT AUC.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ROWS_PER_FIRM = 4.39


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_child(task: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(task)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=3600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("CHILD ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"task {task['task']} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][6:])  # type: ignore[no-any-return]


def _features(data: str) -> tuple[Any, Any, Any, Any]:
    import pandas as pd

    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.features import build_features
    from credit_points.pd_model.split import oot_split
    from credit_points.pipelines.common import load_applicants, score_points_by_cohort
    from credit_points.points.config import load_points_config

    cfg = load_pd_config("default")
    frame = load_applicants(data, require_outcome=True).frame.reset_index(drop=True)
    points, _ = score_points_by_cohort(frame, load_points_config("torch-18"))
    joined = pd.concat([frame, points], axis=1)
    split = oot_split(joined, cfg)
    X = build_features(joined, cfg).to_numpy(dtype="float64")
    y = joined[cfg.split.target].to_numpy(dtype="float64")
    return cfg, split, X, y


def task_train(data: str, engine: str) -> dict[str, Any]:
    from credit_points.pipelines.train import run_train

    start = time.perf_counter()
    outcome = run_train(data, engine=engine)
    return {
        "seconds": time.perf_counter() - start,
        "oot_auc": outcome.metrics["auc"],
        "peak_rss_mib": peak_rss_mib(),
    }


def task_booster(data: str) -> dict[str, Any]:
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    from credit_points.pd_model.classifier import PDClassifier

    cfg, split, X, y = _features(data)
    params = PDClassifier.from_config(cfg).lgb_params(X.shape[1])
    start = time.perf_counter()
    booster = lgb.train(
        params, lgb.Dataset(X[split.train], label=y[split.train]), num_boost_round=cfg.lightgbm.n_estimators
    )
    seconds = time.perf_counter() - start
    auc = roc_auc_score(y[split.test], booster.predict(X[split.test], raw_score=True))
    return {
        "seconds": seconds,
        "oot_auc": float(auc),
        "train_rows": len(split.train),
        "peak_rss_mib": peak_rss_mib(),
    }


def task_hgb(data: str) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    cfg, split, X, y = _features(data)
    lgbm = cfg.lightgbm
    model = HistGradientBoostingClassifier(
        max_iter=lgbm.n_estimators,
        learning_rate=lgbm.learning_rate,
        max_leaf_nodes=lgbm.num_leaves,
        min_samples_leaf=lgbm.min_child_samples,
        l2_regularization=lgbm.reg_lambda,
        max_bins=min(lgbm.max_bin, 255),
        monotonic_cst=list(cfg.monotone_constraints),
        early_stopping=False,
        random_state=lgbm.seed,
    )
    start = time.perf_counter()
    model.fit(X[split.train], y[split.train])
    seconds = time.perf_counter() - start
    auc = roc_auc_score(y[split.test], model.predict_proba(X[split.test])[:, 1])
    return {
        "seconds": seconds,
        "oot_auc": float(auc),
        "train_rows": len(split.train),
        "peak_rss_mib": peak_rss_mib(),
    }


TASKS = {"train": task_train, "booster": task_booster, "hgb": task_hgb}


def run(rows: int, seed: int, dask: bool) -> dict[str, Any]:
    from credit_points.pipelines.generate import write_panel

    result: dict[str, Any] = {"target_rows": rows}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        home = Path(tmp)
        start = time.perf_counter()
        paths = write_panel(
            home / "data" / "raw",
            n_firms=max(500, round(rows / ROWS_PER_FIRM)),
            years=(2019, 2024),
            seed=seed,
        )
        result["generate_s"] = time.perf_counter() - start
        import pyarrow.parquet as pq

        result["rows"] = pq.ParquetFile(paths["applicants"]).metadata.num_rows
        env = {
            **os.environ,
            "CREDIT_POINTS_HOME": str(home),
            "CREDIT_POINTS_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        }
        data = str(paths["applicants"])
        result["train"] = run_child({"task": "train", "data": data, "engine": "local"}, env)
        print(f"  train (end to end): {result['train']['seconds']:.1f} s", flush=True)
        if dask:
            result["train_dask"] = run_child({"task": "train", "data": data, "engine": "dask"}, env)
        result["booster"] = run_child({"task": "booster", "data": data}, env)
        result["hgb"] = run_child({"task": "hgb", "data": data}, env)
    result["hgb_over_booster"] = result["hgb"]["seconds"] / result["booster"]["seconds"]
    return result


def print_report(result: dict[str, Any]) -> None:
    print(f"{result['rows']:,} firm-years (generated in {result['generate_s']:.1f} s)")
    print("| step | seconds | OOT AUC | peak MiB |")
    print("|---|---:|---:|---:|")
    names = {
        "train": "credit-points train (end to end, MLflow)",
        "train_dask": "credit-points train --engine dask",
        "booster": "LightGBM booster alone (same features)",
        "hgb": "sklearn HistGradientBoosting (baseline)",
    }
    for key, label in names.items():
        if key in result:
            r = result[key]
            print(f"| {label} | {r['seconds']:.1f} | {r['oot_auc']:.4f} | {r['peak_rss_mib']:,.0f} |")
    print(f"HistGradientBoosting / LightGBM booster time: {result['hgb_over_booster']:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="firm-years to generate")
    parser.add_argument("--quick", action="store_true", help="30,000 firm-years")
    parser.add_argument("--dask", action="store_true", help="also train with --engine dask (LocalCluster)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        task = json.loads(args.child)
        name = task.pop("task")
        print("CHILD " + json.dumps(TASKS[name](**task)), flush=True)
        return
    result = run(30_000 if args.quick else args.rows, args.seed, args.dask)
    print_report(result)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
