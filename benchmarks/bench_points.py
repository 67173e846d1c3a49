"""Benchmark of the points engine: 1,000,000 firms against a pinned reference, and one firm alone.

Run: ``.venv/bin/python benchmarks/bench_points.py [--rows 1000000] [--config torch-18] [--repeats 3]``.
The reference is pinned from a generated zone population (about 90,000 firm-years); the million-row batch
is a generated panel (tiled to the row count). Prints rows/s per repeat and the median, then single-firm
latency (median and p99 over ``--single`` calls) of the precompiled ``PointsScorer.score`` (the serving path)
and of the ``score_points`` wrapper, which compiles the profile on every call. CPU seconds are printed beside
wall time because the machine is shared. Targets (issue 3): >= 500,000 rows/s on 2 cores; one firm median <= 1 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

ROWS_PER_FIRM = 4.39  # firm-years per firm in a 2019-2024 panel


def main() -> None:
    """Time batch and single-firm scoring and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the batch")
    parser.add_argument("--config", default="torch-18", help="points profile")
    parser.add_argument("--repeats", type=int, default=3, help="timed batch repeats (after one warm-up)")
    parser.add_argument("--single", type=int, default=2000, help="single-firm calls")
    parser.add_argument(
        "--threads", type=int, default=2, help="threads for the batch (the machine has 2 cores)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from credit_points.datasets.generator import generate_panel
    from credit_points.points.config import load_points_config
    from credit_points.points.scorer import PointsScorer, build_reference, score_points

    cfg = load_points_config(args.config)
    population, _ = generate_panel(20_000, years=(2019, 2024), seed=args.seed)
    reference = build_reference(population, cfg, label="benchmark population")
    print(
        f"reference: {len(population):,} firm-years, sha256 {reference.content_hash[:16]}…, profile {cfg.profile}"
    )

    batch, _ = generate_panel(max(1, round(min(args.rows, 250_000) / ROWS_PER_FIRM)), seed=args.seed + 1)
    reps = -(-args.rows // len(batch))
    batch = pd.concat([batch] * reps, ignore_index=True).iloc[: args.rows]
    scorer = PointsScorer(cfg, reference, threads=args.threads)
    scorer.score(batch)  # warm-up: first touch of the output memory
    rates, cpu_rates = [], []
    for k in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        out = scorer.score(batch)
        elapsed, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        rates.append(len(batch) / elapsed)
        cpu_rates.append(len(batch) / cpu_s)
        print(f"batch {k + 1}: {len(batch):,} rows in {elapsed:.2f} s = {rates[-1]:,.0f} rows/s "
              f"(CPU {cpu_s:.2f} s = {cpu_rates[-1]:,.0f} rows per CPU-second)")  # fmt: skip
    print(f"batch median: {statistics.median(rates):,.0f} rows/s wall, {statistics.median(cpu_rates):,.0f} rows per "
          f"CPU-second ({len(out.columns)} columns; target >= 500,000 rows/s)")  # fmt: skip

    print(f"  ({args.threads} thread(s); results do not depend on it)")
    scorer = PointsScorer(cfg, reference)  # the serving path: one thread
    one = batch.iloc[[12345 % len(batch)]]
    for name, call in (("PointsScorer.score (compiled once)", lambda: scorer.score(one)),
                       ("score_points (compiles the profile every call)", lambda: score_points(one, cfg, reference))):  # fmt: skip
        for _ in range(50):
            call()
        times = np.empty(args.single)
        for k in range(args.single):
            start = time.perf_counter()
            call()
            times[k] = time.perf_counter() - start
        times *= 1e3
        print(f"one firm, {name}: median {np.median(times):.3f} ms, p99 {np.percentile(times, 99):.3f} ms "
              f"over {args.single:,} calls (target median <= 1 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
