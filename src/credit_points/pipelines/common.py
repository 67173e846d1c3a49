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
    #: of an ``outcomes dataset`` table: what was decided for the rows in ``frame`` (same index) — the points
    #: (``points_*_decided``, ``points_config_hash``), ``prob_default_decided``, ``previous_model_pd`` — kept
    #: out of the applicant columns
    as_decided: pd.DataFrame | None = None


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


def load_applicants(
    data: str | Path, *, require_outcome: bool = False, keep_unbooked: bool = False
) -> LoadedData:
    """Read and validate applicants; bad rows are returned in ``errors``, never dropped silently.

    From an ``outcomes dataset`` table only the ``matured`` rows are kept, unless ``keep_unbooked``: then
    the applicants without an outcome (``no_outcome``: declined, not approved, never drawn) come too, after
    them, with ``default_12m`` missing (for reject inference). Booked loans whose window is still open are
    never kept: their outcome is unknown, and they were not turned away.
    """
    from credit_points.datasets.io import read_table
    from credit_points.datasets.schema import validate_applicants

    path = applicants_path(data)
    raw = read_table(path)
    digest = frame_digest(raw)
    manifest, left_out, unbooked = None, 0, None
    if {"outcome", "decision_id"} <= set(raw.columns):  # the training table of `outcomes dataset`
        manifest = _outcomes_manifest(path)
        outcome = raw["outcome"].to_numpy()
        matured = outcome == "matured"
        from credit_points.datasets.fields import load_fields

        known = {f.name for f in load_fields().fields}
        keep = [c for c in raw.columns if c in known or _is_as_decided(c)]
        if keep_unbooked:
            unbooked = raw.loc[outcome == "no_outcome", [c for c in keep if c != "default_12m"]]
            unbooked = unbooked.reset_index(drop=True)
        left_out = int((~matured).sum()) - (0 if unbooked is None else len(unbooked))
        raw = raw.loc[matured, keep].reset_index(drop=True)
        raw["default_12m"] = raw["default_12m"].astype("int64")
    good, errors = validate_applicants(raw, require_outcome=require_outcome, path=str(path))
    if unbooked is not None:
        more, more_errors = validate_applicants(unbooked, path=str(path))
        if len(more_errors):  # rows numbered after the matured ones, as in the frame they join
            more_errors = more_errors.assign(row=more_errors["row"] + len(raw))
            errors = pd.concat([errors, more_errors], ignore_index=True)
        more["default_12m"] = np.nan
        good = pd.concat([good, more.set_axis(more.index + len(raw))])
    decided = None
    if manifest is not None:
        decided_columns = [c for c in good.columns if _is_as_decided(c)]
        decided, good = good[decided_columns], good.drop(columns=decided_columns)
    return LoadedData(good, errors, path, digest, manifest, left_out, decided)


def _is_as_decided(column: str) -> bool:
    """A column of the training table that says what was decided — the points, the PD of this product's
    decision, the previous model's PD of the historical book — not an applicant field."""
    return column in ("points_config_hash", "prob_default_decided", "previous_model_pd") or (
        column.startswith("points_") and column.endswith("_decided")
    )


def _outcomes_manifest(path: Path) -> dict[str, Any]:
    """The manifest ``outcomes dataset`` wrote beside its table (``<file>.manifest.json``), or a note that
    there is none."""
    import json

    side = path.with_name(path.name + ".manifest.json")
    if not side.exists():
        return {"note": f"no manifest beside {path.name}"}
    return json.loads(side.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


#: the points a record carries besides the categories, as ``points_<name>`` columns
DECIDED_POINTS = ("total", "core", "bonus", "deductions")


def points_as_decided(points: pd.DataFrame, decided: pd.DataFrame | None, config: PointsConfig) -> np.ndarray:
    """Put the points as decided in place of recomputed ones, where the decision used ``config``.

    ``points`` are the points recomputed over the training rows (:func:`score_points_by_cohort`); ``decided``
    the same rows' points as the decision recorded them (an ``outcomes dataset`` table). On rows decided
    under the same points configuration (content hash), the model learns from exactly the points it was
    decided with — total, core, bonus, deductions and every category — rather than from points recomputed
    against the table's own population. Rows without them (the bank's historical decisions) or decided
    under another configuration keep the recomputed points. Returns the rows taken as decided.
    """
    index = points.index
    if decided is None or "points_config_hash" not in decided.columns:
        return np.zeros(len(index), dtype=bool)
    decided = decided.set_axis(index)
    names = [*(f"points_{n}" for n in DECIDED_POINTS), *(f"points_cat_{c}" for c in config.category_ids)]
    if any(f"{n}_decided" not in decided.columns for n in names):  # a table written before it carried them
        return np.zeros(len(index), dtype=bool)
    parts = decided[[f"{n}_decided" for n in names]].to_numpy(dtype="float64")
    same = (decided["points_config_hash"] == config.content_hash).to_numpy(dtype=bool) & ~np.isnan(parts).any(
        axis=1
    )
    for j, name in enumerate(names):
        values = points[name].to_numpy(dtype="float64", copy=True)
        values[same] = parts[same, j]
        points[name] = values
    return same


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
