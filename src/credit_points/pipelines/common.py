"""Pieces every job shares: reading and validating applicants, data digests, point-in-time points."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from credit_points.exceptions import DataValidationError
from credit_points.points.config import PointsConfig
from credit_points.points.reference import ReferenceTable
from credit_points.points.scorer import PointsScorer, build_reference

APPLICANTS_FILE = "applicants.parquet"


@dataclass
class LoadedData:
    """Validated applicant rows, the problems found, and where they came from."""

    frame: pd.DataFrame
    errors: pd.DataFrame
    path: Path
    digest: str
    #: an ``outcomes dataset`` table: its manifest (audit range, outcome files), and the rows left out
    #: because their outcome has not matured (declined, not booked, window open)
    outcomes_manifest: dict[str, Any] | None = None
    left_out: int = 0


def progress_bar(label: str, console: Any = None) -> Any:
    """The jobs' progress bar (label, bar, done/total, elapsed), cleared when it finishes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def applicants_path(data: str | Path) -> Path:
    """A data folder's ``applicants.parquet``, or the file itself."""
    path = Path(data)
    if path.is_dir():
        path = path / APPLICANTS_FILE
    if not path.exists():
        raise DataValidationError("no such file or folder", path=str(path))
    return path


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 over the values of a frame (row order and column names included), independent of file format."""
    h = hashlib.sha256()
    h.update("|".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def load_applicants(data: str | Path, *, require_outcome: bool = False) -> LoadedData:
    """Read and validate applicants; bad rows are returned in ``errors``, never dropped silently."""
    from credit_points.datasets.io import read_table
    from credit_points.datasets.schema import validate_applicants

    path = applicants_path(data)
    raw = read_table(path)
    digest = frame_digest(raw)
    manifest, left_out = None, 0
    if {"outcome", "decision_id"} <= set(raw.columns):  # the training table of `outcomes dataset`
        manifest = _outcomes_manifest(path)
        matured = raw["outcome"].to_numpy() == "matured"
        left_out = int((~matured).sum())
        from credit_points.datasets.fields import load_fields

        known = {f.name for f in load_fields().fields}
        raw = raw.loc[matured, [c for c in raw.columns if c in known]].reset_index(drop=True)
        raw["default_12m"] = raw["default_12m"].astype("int64")
    good, errors = validate_applicants(raw, require_outcome=require_outcome, path=str(path))
    return LoadedData(good, errors, path, digest, manifest, left_out)


def _outcomes_manifest(path: Path) -> dict[str, Any]:
    """The manifest ``outcomes dataset`` wrote beside its table (``<file>.manifest.json``), or a note that
    there is none."""
    import json

    side = path.with_name(path.name + ".manifest.json")
    if not side.exists():
        return {"note": f"no manifest beside {path.name}"}
    return json.loads(side.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def score_points_by_cohort(frame: pd.DataFrame, config: PointsConfig) -> tuple[pd.DataFrame, ReferenceTable]:
    """Points for a multi-year panel, each year against that year's own population (point in time).

    Returns the points frame (same index) and the reference of the latest year — the one a bundle pins for
    new applicants.
    """
    years = frame["as_of_date"].dt.year.to_numpy()
    parts = []
    reference = None
    for year in np.unique(years):
        cohort = frame.loc[years == year]
        reference = build_reference(cohort, config)
        parts.append(PointsScorer(config, reference).score(cohort))
    if reference is None:
        raise DataValidationError("no rows to score", field="as_of_date")
    return pd.concat(parts).loc[frame.index], reference
