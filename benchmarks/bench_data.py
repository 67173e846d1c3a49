"""Benchmark of the applicant-data layer: generate ~1,000,000 firm-years, then validate them.

Run: ``.venv/bin/python benchmarks/bench_data.py [--rows 1000000] [--seed 0] [--stats]``. Prints rows, elapsed
seconds and rows/s for each step. Targets (issue 2): generate in < 60 s, validate in < 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# A pilot run gives ~4.4 firm-years per firm over 2019-2024 (entry and exit included).
ROWS_PER_FIRM = 4.39


def print_stats(applicants: pd.DataFrame, truth: pd.DataFrame) -> None:
    """Stage shares, default rate and oracle AUC by year, veto share: the figures docs/data.md quotes."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from credit_points.datasets.generator_config import load_generator_config

    config = load_generator_config()
    lowers = [s.lower for s in config.stages]
    ids = np.array([s.id for s in config.stages])
    stage = ids[np.searchsorted(lowers, applicants["revenue"].to_numpy(), side="right") - 1]
    shares = {str(k): round(float((stage == k).mean()), 3) for k in ids}
    print(f"stage shares: {shares}")
    year = applicants["as_of_date"].dt.year
    for y in sorted(year.unique()):
        rows = year == y
        auc = roc_auc_score(applicants.loc[rows, "default_12m"], truth.loc[rows, "true_pd"])
        print(
            f"  {y}: {int(rows.sum()):,} rows, default rate {applicants.loc[rows, 'default_12m'].mean():.2%}, oracle AUC {auc:.3f}"
        )
    veto = (
        (applicants["credit_status"] == "serious_dishonest")
        | ~applicants["registration_status"].isin(["active", "operating"])
        | applicants["pboc_special_mention_or_npl"]
        | (applicants["tax_credit_grade"] == "D")
    )
    print(
        f"veto conditions: {veto.mean():.2%} of firm-years, mean true PD {truth.loc[veto, 'true_pd'].mean():.1%}"
    )


def main() -> None:
    """Time generation and validation and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="target firm-years")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stats", action="store_true", help="also print the panel's realism figures")
    args = parser.parse_args()

    from credit_points.datasets.generator import generate_panel
    from credit_points.datasets.schema import validate_applicants

    n_firms = max(1, round(args.rows / ROWS_PER_FIRM))
    start = time.perf_counter()
    applicants, _truth = generate_panel(n_firms, years=(2019, 2024), seed=args.seed)
    gen_s = time.perf_counter() - start
    print(
        f"generate: {len(applicants):,} rows ({n_firms:,} firms) in {gen_s:.2f} s = {len(applicants) / gen_s:,.0f} rows/s"
    )

    if args.stats:
        print_stats(applicants, _truth)

    start = time.perf_counter()
    good, errors = validate_applicants(applicants, require_outcome=True)
    val_s = time.perf_counter() - start
    print(
        f"validate: {len(applicants):,} rows in {val_s:.2f} s = {len(applicants) / val_s:,.0f} rows/s ({len(good):,} good, {len(errors):,} problems)"
    )

    # The command's path: write Parquet, read it back, validate.
    import tempfile
    from pathlib import Path

    from credit_points.datasets.io import read_table, write_table

    with tempfile.TemporaryDirectory() as tmp:
        path = write_table(applicants, Path(tmp) / "applicants.parquet")
        start = time.perf_counter()
        good, errors = validate_applicants(read_table(path), require_outcome=True, path=str(path))
        file_s = time.perf_counter() - start
    print(
        f"read Parquet + validate: {len(applicants):,} rows in {file_s:.2f} s = {len(applicants) / file_s:,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
