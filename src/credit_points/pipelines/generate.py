"""The generate job: draw the synthetic panel and write it with a manifest of row counts and file hashes."""

from __future__ import annotations

import json
from pathlib import Path

from credit_points.config import file_sha256
from credit_points.datasets.generator import generate_panel
from credit_points.datasets.generator_config import GeneratorConfig, load_generator_config
from credit_points.datasets.io import write_table
from credit_points.datasets.lender_view import (
    DECISIONS_FILE,
    PERFORMANCE_FILE,
    historical_decisions,
    history_until,
    observed_until,
    performance,
)

APPLICANTS_FILE = "applicants.parquet"
TRUTH_FILE = "truth.parquet"
MANIFEST_FILE = "manifest.json"


def write_panel(
    out_dir: str | Path,
    n_firms: int,
    years: tuple[int, int] = (2019, 2024),
    seed: int = 0,
    *,
    zone: str | None = None,
    config: GeneratorConfig | None = None,
) -> dict[str, Path]:
    """Generate a panel and write it, the lender's view of it, and a manifest.

    ``applicants.parquet`` is the simulation where every outcome is known (what ``train`` and the demo
    use); ``truth.parquet`` holds each firm-year's true PD and true outcome, for evaluation only and never
    a model input; ``historical_decisions.parquet`` and ``performance.parquet`` are what a lender would
    see: its past decisions and the outcomes of the loans it booked, as far as they have matured
    (``datasets.lender_view``). The same arguments give byte-identical files.

    Args:
        out_dir: the folder (created if needed).
        n_firms: firms in the panel (see :func:`~credit_points.datasets.generator.generate_panel`).
        years: first and last year, inclusive.
        seed: random seed.
        zone: restrict to one zone id.
        config: the generator's parameters (default ``configs/generator.yaml``), e.g. a copy with the
            drift switched on or moved.

    Returns:
        ``{"applicants", "truth", "historical_decisions", "performance", "manifest"}`` → path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = config or load_generator_config()
    applicants, truth = generate_panel(n_firms, years=years, seed=seed, zone=zone, config=config)
    truth = truth.assign(default_12m=applicants["default_12m"].to_numpy())
    lender = config.lender
    decisions = historical_decisions(applicants, truth, years, lender, seed)
    loans = performance(decisions, truth, years, lender, seed)
    paths = {
        "applicants": write_table(applicants, out / APPLICANTS_FILE),
        "truth": write_table(truth, out / TRUTH_FILE),
        "historical_decisions": write_table(decisions, out / DECISIONS_FILE),
        "performance": write_table(loans, out / PERFORMANCE_FILE),
    }
    years_present = applicants["as_of_date"].dt.year
    manifest = {
        "kind": "synthetic_panel",
        "seed": seed,
        "n_firms": n_firms,
        "years": [int(years[0]), int(years[1])],
        "zone": zone,
        "generator_config_version": config.version,
        "generator_config_hash": config.content_hash,
        "rows": {
            "applicants": len(applicants),
            "truth": len(truth),
            "historical_decisions": len(decisions),
            "booked": int(decisions["booked"].sum()),
            "performance": len(loans),
        },
        "history_until": history_until(years, lender).isoformat(),
        "observed_until": observed_until(years, lender).isoformat(),
        "rows_by_year": {str(y): int(n) for y, n in years_present.value_counts().sort_index().items()},
        "default_rate": float(applicants["default_12m"].mean()) if len(applicants) else None,
        "files": {name: {"file": path.name, "sha256": file_sha256(path)} for name, path in paths.items()},
    }
    manifest_path = out / MANIFEST_FILE
    manifest_path.write_text(
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return {**paths, "manifest": manifest_path}
