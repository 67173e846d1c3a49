"""Benchmark of the decision engine: batch ``decide`` vs raw LightGBM, one applicant, scaling local vs Dask, model size.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--quick] [--json]``. Prints a human table and, last, one
line ``RESULT {json}`` that ``benchmarks/run_all.py`` reads.

What it measures (each timed step runs in its own child process, so its peak RSS is that step's alone):

1. ``decide`` on a batch (1,000,000 rows; ``--quick`` 100,000) with reason codes on adverse outcomes,
   beside its baseline in the same process: raw ``Booster.predict`` on the same feature matrix plus raw
   ``pred_contrib`` on exactly the rows that got reason codes; on 2 LightGBM threads (``decide`` splits the
   batch into a chunk per thread), then again on 1.
2. One applicant alone: ``decide`` on a one-row frame, median and p99 over repeated calls.
3. The scaling series: ``score_file`` (local, streaming 100,000-row chunks) and ``score --engine dask``
   (``LocalCluster`` 2 workers × 1 thread) on 100k / 1M / 5M rows (``--quick``: 20k / 100k / 500k), with
   rows/s and peak RSS (local: the process; Dask: the client and each worker).
4. Model size: boosters of growing trees × leaves on the same data, with OOT AUC, predict and
   ``pred_contrib`` rows/s (TreeSHAP cost grows with trees × leaves × depth²).

The model is trained once on a generated panel (same pipeline as ``credit-points train``, no registry) and
saved as a bundle folder that the children load, as ``credit-points score`` would.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHUNK_ROWS = 100_000


# ------------------------------------------------------------------------------------------ helpers
def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def safe_child(task: dict[str, Any]) -> dict[str, Any]:
    """:func:`run_child`, recording a failure instead of losing the other measurements."""
    try:
        return run_child(task)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"  {task['task']} failed: {str(exc)[-500:]}", file=sys.stderr, flush=True)
        return {"error": str(exc)[-2000:]}


def run_child(task: dict[str, Any], timeout: float = 3600.0) -> dict[str, Any]:
    """Run one task in a fresh interpreter; return its ``CHILD`` JSON plus the child's peak RSS."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(task)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("CHILD ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"task {task['task']} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(lines[-1][6:])
    out.setdefault("children_max_rss_mib", usage.ru_maxrss / 1024.0)
    return out


# ------------------------------------------------------------------------------------------- setup
def build_model(work: Path, n_firms: int, seed: int) -> Path:
    """Train the PD model on a generated panel (the train job's pipeline without the registry); save a bundle."""
    import pandas as pd

    from credit_points.bundle import golden_frame, save_bundle
    from credit_points.datasets.fields import load_fields
    from credit_points.engine import DecisionEngine, ModelIdentity
    from credit_points.explain.config import load_reason_codes
    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.training import fit_pd_model
    from credit_points.pipelines.common import load_applicants, score_points_by_cohort
    from credit_points.pipelines.generate import write_panel
    from credit_points.points.config import load_points_config
    from credit_points.policy.config import load_policy

    paths = write_panel(work / "train", n_firms=n_firms, years=(2019, 2024), seed=seed)
    loaded = load_applicants(paths["applicants"], require_outcome=True)
    frame = loaded.frame.reset_index(drop=True)
    points_cfg, pd_cfg = load_points_config("torch-18"), load_pd_config("default")
    points, reference = score_points_by_cohort(frame, points_cfg)
    fit = fit_pd_model(pd.concat([frame, points], axis=1), pd_cfg)
    engine = DecisionEngine(
        points_config=points_cfg,
        reference=reference,
        pd_config=pd_cfg,
        classifier=fit.model,
        policy=load_policy("default"),
        reason_codes_config=load_reason_codes(),
        fields=load_fields(),
        identity=ModelIdentity(name="bench"),
    )
    bundle = work / "bundle"
    save_bundle(engine, bundle, golden_inputs=golden_frame(engine, frame.iloc[fit.split.test], n=40, seed=0))
    # the training frame with points, for the model-size series
    pd.concat([frame, points], axis=1).to_parquet(work / "train_joined.parquet", index=False)
    return bundle


def write_inputs(work: Path, sizes: list[int], seed: int) -> dict[int, Path]:
    """Applicant files of each size: a 100,000-row block (unique keys) repeated, in 100,000-row row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from credit_points.datasets.generator import generate_panel

    block_rows = min(CHUNK_ROWS, max(sizes))
    panel, _ = generate_panel(max(2000, int(block_rows / 3.5)), years=(2019, 2024), seed=seed + 1)
    block = panel.drop(columns=["default_12m"]).head(block_rows).reset_index(drop=True)
    block_rows = len(block)
    table = pa.Table.from_pandas(block, preserve_index=False)
    paths = {}
    for size in sizes:
        path = work / f"applicants_{size}.parquet"
        with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
            left = size
            while left > 0:
                take = min(left, block_rows)
                writer.write_table(table.slice(0, take), row_group_size=CHUNK_ROWS)
                left -= take
        paths[size] = path
    return paths


# -------------------------------------------------------------------------------------------- tasks
def task_batch(bundle: str, data: str, rows: int, threads: int = 2) -> dict[str, Any]:
    """``decide`` on ``rows`` rows vs raw predict + raw pred_contrib on the rows with reason codes, both on
    ``threads`` LightGBM threads (``decide`` splits the batch over them: ``engine.PARALLEL_MIN_ROWS``)."""
    import numpy as np
    import pandas as pd

    from credit_points.bundle import load_bundle
    from credit_points.datasets.schema import validate_applicants
    from credit_points.pd_model.features import build_features

    engine = load_bundle(bundle)
    engine.set_threads(threads)
    frame = pd.read_parquet(data)
    good, _ = validate_applicants(frame, check_contract=False)
    reps = max(1, rows // len(good))
    batch = pd.concat([good] * reps, ignore_index=True).head(rows)
    start = time.perf_counter()
    decided = engine.decide(batch)
    decide_s = time.perf_counter() - start
    explained = decided["reason_codes"].astype(str) != ""
    # baseline: the booster alone on the same rows (feature matrix built outside the timer)
    joined = pd.concat([batch, engine.score_points(batch)], axis=1)
    X = build_features(joined, engine.pd_config).to_numpy(dtype="float64")
    booster = engine.classifier.booster_
    start = time.perf_counter()
    booster.predict(X, raw_score=True, num_threads=threads)
    predict_s = time.perf_counter() - start
    start = time.perf_counter()
    booster.predict(X[explained.to_numpy()], pred_contrib=True, num_threads=threads)
    contrib_s = time.perf_counter() - start
    return {
        "rows": len(batch),
        "threads": threads,
        "explained_rows": int(explained.sum()),
        "decide_s": decide_s,
        "decide_rows_per_s": len(batch) / decide_s,
        "raw_predict_s": predict_s,
        "raw_contrib_s": contrib_s,
        "raw_total_s": predict_s + contrib_s,
        "decide_over_raw": decide_s / (predict_s + contrib_s),
        "trees": booster.num_trees(),
        "peak_rss_mib": peak_rss_mib(),
        "approve_rate": float(np.mean(decided["decision"] == "approve")),
    }


def task_single(bundle: str, data: str, calls: int) -> dict[str, Any]:
    """One applicant alone: ``decide`` on a one-row frame, repeated."""
    import numpy as np
    import pandas as pd

    from credit_points.bundle import load_bundle
    from credit_points.datasets.schema import validate_applicants

    engine = load_bundle(bundle)
    engine.set_threads(1)
    good, _ = validate_applicants(pd.read_parquet(data).head(500), check_contract=False)
    rows = [good.iloc[[i % len(good)]] for i in range(calls)]
    for row in rows[:20]:
        engine.decide(row)
    times = []
    for row in rows:
        start = time.perf_counter()
        engine.decide(row)
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1000
    out = {"calls": calls, "median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99))}
    # the API's path: validated dict -> record (records.decide_records; a method of the engine before)
    from credit_points.records import input_records

    try:
        from credit_points.records import decide_records
    except ImportError:
        decide_records = type(engine).decide_records
    dicts = input_records(good, engine.fields.input_names)
    dicts = [dicts[i % len(dicts)] for i in range(calls)]
    for d in dicts[:20]:
        decide_records(engine, [d])
    times = []
    for d in dicts:
        start = time.perf_counter()
        decide_records(engine, [d])
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1000
    out["records_median_ms"] = float(np.median(ms))
    out["records_p99_ms"] = float(np.percentile(ms, 99))
    return out


def task_score_local(bundle: str, data: str, out: str, explain: str = "adverse") -> dict[str, Any]:
    """``score_file`` streaming in 100,000-row chunks."""
    from credit_points.bundle import load_bundle
    from credit_points.pipelines.score import score_file

    engine = load_bundle(bundle)
    engine.set_threads(1)
    start = time.perf_counter()
    summary = score_file(
        engine,
        data,
        out,
        errors_path=Path(out).with_suffix(".errors.parquet"),
        chunk_rows=CHUNK_ROWS,
        explain=explain,
    )
    elapsed = time.perf_counter() - start
    return {
        "rows": summary.rows,
        "bad_rows": summary.bad_rows,
        "seconds": elapsed,
        "rows_per_s": summary.rows / elapsed,
        "peak_rss_mib": peak_rss_mib(),
    }


def task_score_dask(
    bundle: str, data: str, out: str, workers: int, explain: str = "adverse"
) -> dict[str, Any]:
    """``score --engine dask`` on a ``LocalCluster`` (workers × 1 thread)."""
    from credit_points.engine import ModelIdentity
    from credit_points.pipelines.dask_score import BundleSpec, dask_client, score_on_dask
    from credit_points.tracking.registry import fetch_model

    resolved = fetch_model(bundle, Path(out).parent / "models")
    spec = BundleSpec.from_folder(
        resolved.bundle_dir, ModelIdentity("bench", "local", resolved.artifact_hash, "")
    )
    with dask_client(n_workers=workers) as client:
        client.run(lambda: None)
        start = time.perf_counter()
        summary = score_on_dask(
            client,
            spec,
            data,
            out,
            errors_path=Path(out).with_suffix(".errors.parquet"),
            partition_rows=CHUNK_ROWS,
            explain=explain,
        )
        elapsed = time.perf_counter() - start
        workers_rss = client.run(peak_rss_mib)
    return {
        "rows": summary.rows,
        "bad_rows": summary.bad_rows,
        "seconds": elapsed,
        "rows_per_s": summary.rows / elapsed,
        "client_peak_rss_mib": peak_rss_mib(),
        "worker_peak_rss_mib": sorted(workers_rss.values()),
        "peak_rss_mib": peak_rss_mib() + sum(workers_rss.values()),
    }


def task_model_size(joined: str, shapes: list[list[int]], sample_rows: int) -> dict[str, Any]:
    """OOT AUC, predict and pred_contrib speed of boosters of several trees × leaves (same data, same split)."""
    import lightgbm as lgb
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from credit_points.pd_model.classifier import PDClassifier
    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.features import build_features
    from credit_points.pd_model.split import oot_split

    cfg = load_pd_config("default")
    frame = pd.read_parquet(joined)
    split = oot_split(frame, cfg)
    X = build_features(frame, cfg).to_numpy(dtype="float64")
    y = frame[cfg.split.target].to_numpy(dtype="float64")
    base = PDClassifier.from_config(cfg).lgb_params(X.shape[1])
    rng = np.random.default_rng(0)
    sample = X[rng.integers(0, len(X), sample_rows)]
    rows = []
    for trees, leaves in shapes:
        params = {**base, "num_leaves": leaves}
        booster = lgb.train(params, lgb.Dataset(X[split.train], label=y[split.train]), num_boost_round=trees)
        auc = roc_auc_score(y[split.test], booster.predict(X[split.test], raw_score=True))
        start = time.perf_counter()
        booster.predict(sample, raw_score=True, num_threads=1)
        predict_s = time.perf_counter() - start
        start = time.perf_counter()
        booster.predict(sample, pred_contrib=True, num_threads=1)
        contrib_s = time.perf_counter() - start
        rows.append(
            {
                "trees": trees,
                "leaves": leaves,
                "oot_auc": float(auc),
                "predict_rows_per_s": sample_rows / predict_s,
                "contrib_rows_per_s": sample_rows / contrib_s,
                "contrib_over_predict": contrib_s / predict_s,
            }
        )
    return {"rows": rows, "oot_rows": len(split.test)}


TASKS = {
    "batch": task_batch,
    "single": task_single,
    "score_local": task_score_local,
    "score_dask": task_score_dask,
    "model_size": task_model_size,
}


# --------------------------------------------------------------------------------------------- main
def run(
    quick: bool,
    seed: int,
    workers: int,
    *,
    sizes: list[int] | None = None,
    explain: str = "adverse",
    dask: bool = True,
    parts: tuple[str, ...] = ("batch", "single", "scaling", "model_size"),
) -> dict[str, Any]:
    sizes = sizes or ([20_000, 100_000, 500_000] if quick else [100_000, 1_000_000, 5_000_000])
    batch_rows = 100_000 if quick else 1_000_000
    result: dict[str, Any] = {"quick": quick, "sizes": sizes, "explain": explain}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        bundle = build_model(work, n_firms=3000 if quick else 8000, seed=seed)
        result["setup_train_s"] = time.perf_counter() - start
        inputs = write_inputs(work, sizes, seed)
        smallest = str(inputs[sizes[0]])
        if "batch" in parts:
            for threads, key in ((2, "batch"), (1, "batch_1_thread")):
                result[key] = safe_child(
                    {
                        "task": "batch",
                        "bundle": str(bundle),
                        "data": smallest,
                        "rows": batch_rows,
                        "threads": threads,
                    }
                )
        if "single" in parts:
            calls = 300 if quick else 1000
            result["single"] = safe_child(
                {"task": "single", "bundle": str(bundle), "data": smallest, "calls": calls}
            )
        series = []
        for size in sizes if "scaling" in parts else []:
            row: dict[str, Any] = {"rows": size}
            row["local"] = safe_child(
                {
                    "task": "score_local",
                    "bundle": str(bundle),
                    "data": str(inputs[size]),
                    "out": str(work / f"out_{size}.parquet"),
                    "explain": explain,
                }
            )
            if "error" in row["local"]:
                series.append(row)
                continue
            line = f"  scaling {size:>9,} rows: local {row['local']['rows_per_s']:>9,.0f} rows/s peak {row['local']['peak_rss_mib']:,.0f} MiB"
            if dask:
                row["dask"] = safe_child(
                    {"task": "score_dask", "bundle": str(bundle), "data": str(inputs[size]), "out": str(work / f"dask_{size}"),
                     "workers": workers, "explain": explain}
                )  # fmt: skip
                if "error" not in row["dask"]:
                    line += f" | dask {row['dask']['rows_per_s']:>9,.0f} rows/s peak client+workers {row['dask']['peak_rss_mib']:,.0f} MiB"
            series.append(row)
            print(line, flush=True)
        result["scaling"] = series
        if "model_size" in parts:
            shapes = (
                [[50, 7], [100, 15], [300, 15], [300, 31], [600, 63]]
                if not quick
                else [[50, 7], [100, 15], [300, 31]]
            )
            result["model_size"] = safe_child(
                {
                    "task": "model_size",
                    "joined": str(work / "train_joined.parquet"),
                    "shapes": shapes,
                    "sample_rows": 5000,
                }
            )
    return result


def print_report(result: dict[str, Any]) -> None:
    b, s = result.get("batch"), result.get("single")
    if b and s and "error" not in b and "error" not in s:
        _print_batch(b, s, result.get("batch_1_thread"))
    print(f"scaling series (reason codes: {result['explain']}, chunks/partitions of {CHUNK_ROWS:,} rows)")
    print("| rows | local rows/s | local peak MiB | dask rows/s | dask peak MiB (client + workers) |")
    print("|---:|---:|---:|---:|---:|")
    for row in result["scaling"]:
        if "error" in row["local"]:
            continue
        dask = row.get("dask") or {}
        print(
            f"| {row['rows']:,} | {row['local']['rows_per_s']:,.0f} | {row['local']['peak_rss_mib']:,.0f} | "
            f"{dask.get('rows_per_s', float('nan')):,.0f} | {dask.get('peak_rss_mib', float('nan')):,.0f} |"
        )
    if "rows" in result.get("model_size", {}):
        print("| trees | leaves | OOT AUC | predict rows/s | pred_contrib rows/s | contrib / predict |")
        print("|---:|---:|---:|---:|---:|---:|")
        for row in result["model_size"]["rows"]:
            print(
                f"| {row['trees']} | {row['leaves']} | {row['oot_auc']:.4f} | {row['predict_rows_per_s']:,.0f} | "
                f"{row['contrib_rows_per_s']:,.0f} | {row['contrib_over_predict']:.0f}x |"
            )


def _print_batch(b: dict[str, Any], s: dict[str, Any], b1: dict[str, Any] | None = None) -> None:
    print(
        f"decide on {b['rows']:,} rows, {b.get('threads', 1)} threads: {b['decide_s']:.1f} s = "
        f"{b['decide_rows_per_s']:,.0f} rows/s ({b['explained_rows']:,} with reason codes), peak "
        f"{b['peak_rss_mib']:,.0f} MiB"
    )
    print(
        f"  baseline raw Booster.predict {b['raw_predict_s']:.2f} s + raw pred_contrib on the explained rows "
        f"{b['raw_contrib_s']:.2f} s = {b['raw_total_s']:.2f} s; decide / raw = {b['decide_over_raw']:.2f}x"
    )
    if b1 and "error" not in b1:
        print(
            f"  on 1 thread: decide {b1['decide_s']:.1f} s, raw {b1['raw_total_s']:.2f} s, "
            f"decide / raw = {b1['decide_over_raw']:.2f}x"
        )
    print(
        f"one applicant alone: median {s['median_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms over {s['calls']} calls"
    )
    if "records_median_ms" in s:
        print(
            f"  dict -> record (decide_records): median {s['records_median_ms']:.2f} ms, "
            f"p99 {s['records_p99_ms']:.2f} ms"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (20k / 100k / 500k rows)")
    parser.add_argument("--sizes", default=None, help="comma-separated row counts of the scaling series")
    parser.add_argument(
        "--explain", default="adverse", choices=["adverse", "all", "none"], help="reason codes in the series"
    )
    parser.add_argument("--no-dask", action="store_true", help="local scoring only in the series")
    parser.add_argument(
        "--parts", default="batch,single,scaling,model_size", help="which measurements to run"
    )
    parser.add_argument("--workers", type=int, default=2, help="Dask LocalCluster workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        task = json.loads(args.child)
        name = task.pop("task")
        print("CHILD " + json.dumps(TASKS[name](**task)), flush=True)
        return
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    parts = tuple(args.parts.split(","))
    result = run(
        args.quick,
        args.seed,
        args.workers,
        sizes=sizes,
        explain=args.explain,
        dask=not args.no_dask,
        parts=parts,
    )
    print_report(result)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
