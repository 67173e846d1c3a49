"""Benchmark of the applicant-data layer: generate ~1,000,000 firm-years, then validate them.

Run: ``.venv/bin/python benchmarks/bench_data.py [--rows 1000000] [--seed 0]``. Prints rows, elapsed
seconds and rows/s for each step. Targets (issue 2): generate in < 60 s, validate in < 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time

# A pilot run gives ~4.4 firm-years per firm over 2019-2024 (entry and exit included).
ROWS_PER_FIRM = 4.39


def main() -> None:
    """Time generation and validation and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="target firm-years")
    parser.add_argument("--seed", type=int, default=0)
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
