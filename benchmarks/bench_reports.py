"""Benchmark of per-loan reports: HTML reports/s for 1,000 decisions (2 worker processes) and PDF/s.

Run: ``.venv/bin/python benchmarks/bench_reports.py [--decisions 1000] [--pdf 20] [--firms 3000]``. Trains a
small model in a throwaway home (``CREDIT_POINTS_HOME``), decides the latest cohort as the API does
(contributions on adverse rows), then renders every decision's HTML report once in this process (one core)
and once through ``render_batch`` with two worker processes. Prints
reports/s for each, and ``--pdf`` PDFs printed by each engine (WeasyPrint in worker processes, Chromium as pages
of one browser) with the ratio. Targets: ≥ 20 HTML/s and ≥ 2 PDF/s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--pdf", type=int, default=20)
    parser.add_argument("--firms", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    os.environ["CREDIT_POINTS_HOME"] = str(home)
    os.environ["CREDIT_POINTS_TRACKING_URI"] = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    from rich.console import Console

    from credit_points.datasets.schema import validate_applicants
    from credit_points.pipelines.generate import write_panel
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.report import render_batch
    from credit_points.pipelines.train import run_train
    from credit_points.records import decision_records, input_records
    from credit_points.reports.loan import render_report
    from credit_points.reports.pdf import html_to_pdf

    quiet = Console(quiet=True)
    data = home / "data" / "raw"
    write_panel(data, n_firms=args.firms, years=(2019, 2024), seed=3)
    outcome = run_train(data, console=quiet)
    engine, _ = load_engine("models:/credit-points@challenger")
    import pandas as pd

    applicants = pd.read_parquet(data / "applicants.parquet")
    applicants = applicants.sort_values("as_of_date", ascending=False, kind="stable").head(args.decisions)
    good, _ = validate_applicants(applicants.reset_index(drop=True))
    decided = engine.decide(good, explain="adverse")
    records = decision_records(engine, decided, input_records(good, engine.fields.names))
    counts = decided["decision"].value_counts().to_dict()
    print(f"{len(records):,} decisions {counts}, model version {outcome.version}")

    start = time.perf_counter()
    for record in records:
        render_report(record, engine, "html", "zh")
    single = time.perf_counter() - start
    print(f"HTML, 1 process : {len(records) / single:6.1f} reports/s ({single:.1f} s for {len(records):,})")

    uri = f"models:/credit-points/{outcome.version}"
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        batch = render_batch(records, out, formats=("html",), langs=("zh",), model_uri=uri, workers=args.workers,
                             console=quiet)  # fmt: skip
        parallel = time.perf_counter() - start
        print(
            f"HTML, {args.workers} processes: {len(batch.paths) / parallel:6.1f} reports/s ({parallel:.1f} s for "
            f"{len(batch.paths):,}, worker start-up included; {len(batch.failed)} failed)"
        )
        sample = records[: args.pdf]
        rates = {}
        for pdf_engine in ("weasyprint", "chromium"):  # the same reports, each engine as render_batch runs it
            folder = Path(out) / pdf_engine
            start = time.perf_counter()
            batch = render_batch(sample, folder, formats=("pdf",), langs=("zh",), model_uri=uri,
                                 workers=args.workers, console=quiet, pdf_engine=pdf_engine)  # fmt: skip
            pdf = time.perf_counter() - start
            rates[pdf_engine] = len(batch.paths) / pdf
            size = sum(p.stat().st_size for p in batch.paths) / max(len(batch.paths), 1)
            how = "worker processes" if pdf_engine == "weasyprint" else "pages of one browser"
            print(
                f"PDF {pdf_engine:10s} {args.workers} {how}: {rates[pdf_engine]:6.2f} reports/s ({pdf:.1f} s for "
                f"{len(batch.paths)}, start-up included; {size / 1024:.0f} KiB each; {len(batch.failed)} failed)"
            )
            html = render_report(sample[0], engine, "html", "zh").decode("utf-8")
            html_to_pdf(html, engine=pdf_engine)  # warm
            start = time.perf_counter()
            for _ in range(5):
                html_to_pdf(html, engine=pdf_engine)
            print(f"    one PDF for an officer, warm: {(time.perf_counter() - start) / 5 * 1000:.0f} ms")
        print(f"PDF chromium / weasyprint: {rates['chromium'] / rates['weasyprint']:.1f}x")


if __name__ == "__main__":
    main()
