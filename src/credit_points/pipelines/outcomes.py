"""``outcomes simulate``: the loans the product itself approved, booked and performing as the truth says.

The generator's ``performance`` file covers the bank's historical book. For decisions made from now on
(``score --audit`` on the panel's later years, or the API), this books what the product decided — an
approval at the generator's take-up rate, a referral only when an officer approved it by override, the
latest decision of an application only — and writes each booked loan's ``performance`` rows from the
generator's ``truth`` (``datasets.lender_view.performance``: the same statuses and dates as the
historical book). Booking is drawn per application from a hash of the seed and the application's key,
so the same decisions give the same loans in any order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from credit_points.audit.outcomes import OutcomeStore
from credit_points.audit.store import OVERRIDE_KINDS, AuditStore
from credit_points.config import file_sha256
from credit_points.datasets.generator_config import LenderViewSpec, load_generator_config
from credit_points.datasets.lender_view import performance
from credit_points.exceptions import DataValidationError

KEY = ["firm_id", "as_of_date"]


@dataclass(frozen=True)
class SimulatedOutcomes:
    """What ``outcomes simulate`` did: decisions read, applications, loans booked, performance rows."""

    decisions: int
    applications: int
    approved: int
    booked: int
    rows: int
    observed_until: dt.date


def decisions_from_file(path: str | Path) -> pd.DataFrame:
    """The decisions of a ``score`` output (Parquet or CSV): key, decision and, when audited, ``decision_id``.

    A file carries no officer overrides: its referrals stay unbooked. The latest row of an application
    is its decision in force.
    """
    from credit_points.datasets.io import read_table

    frame = read_table(Path(path))
    missing = [c for c in [*KEY, "decision"] if c not in frame.columns]
    if missing:
        raise DataValidationError(f"is not a decisions file: columns {missing} missing", path=str(path))
    out = frame[[*KEY, "decision"]].copy()
    out["decision_id"] = frame["decision_id"] if "decision_id" in frame.columns else None
    out["approved"] = out["decision"] == "approve"
    return out


def decisions_from_audit(store: AuditStore) -> pd.DataFrame:
    """Every audited decision with the decision in force after its overrides (chain order).

    A decision counts as approved when its last override says ``decision: approve`` (an officer approving a
    referral), or when it was approved and no override changed it to something else.
    """
    decided: dict[str, dict[str, object]] = {}
    for part in OutcomeStore(store).decision_parts(with_input=False):
        if part.kind == "decision":
            decided[part.decision_id] = {
                "firm_id": part.firm_id,
                "as_of_date": part.as_of_date,
                "decision": part.decision,
                "decision_id": part.decision_id,
                "seq": part.seq,
            }
        elif part.kind in OVERRIDE_KINDS and part.parent_id in decided and part.decision is not None:
            # the indexed column of an override row is what came into force (a pending override's is empty;
            # its approval carries it)
            decided[part.parent_id]["decision"] = part.decision
    frame = pd.DataFrame(list(decided.values()), columns=[*KEY, "decision", "decision_id", "seq"])
    frame = frame.sort_values("seq", kind="stable").drop(columns="seq")
    frame["approved"] = frame["decision"] == "approve"
    return frame


def _uniform(seed: int, firms: list[str], dates: list[str]) -> np.ndarray:
    """One draw in [0, 1) per application, from its key and the seed alone (order does not matter)."""
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}\x1f{f}\x1f{d}".encode()).digest()[:7], "big") / 2.0**56
            for f, d in zip(firms, dates, strict=True)
        ]
    )


def simulate_outcomes(
    decisions: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    seed: int = 7,
    spec: LenderViewSpec | None = None,
    observed_until: dt.date | None = None,
) -> tuple[pd.DataFrame, SimulatedOutcomes]:
    """Book the approved decisions and write their performance rows from the truth.

    Args:
        decisions: ``firm_id``, ``as_of_date``, ``approved`` and ``decision_id`` (may be null), in decision
            order: the last row of an application is its decision in force.
        truth: the generator's ``truth`` (``firm_id``, ``as_of_date``, ``default_12m``).
        seed: the booking draw's seed.
        spec: take-up and restructured share (default: ``configs/generator.yaml``'s ``lender``).
        observed_until: the last date observed; default: every booked loan's 12-month window closed.

    Raises:
        DataValidationError: the truth has no outcome, or an application is not in the truth.
    """
    spec = spec or load_generator_config().lender
    if "default_12m" not in truth.columns:
        raise DataValidationError(
            "has no default_12m column: write it with a current `generate`", field="truth"
        )
    frame = decisions.copy()
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"])
    latest = frame.drop_duplicates(KEY, keep="last").sort_values(KEY, kind="stable").reset_index(drop=True)
    truth = truth.assign(as_of_date=pd.to_datetime(truth["as_of_date"]))
    known = latest.merge(truth[KEY], on=KEY, how="left", indicator=True)["_merge"] == "both"
    if not known.all():
        first = latest.loc[~known.to_numpy()].iloc[0]
        raise DataValidationError(
            f"{int((~known).sum())} application(s) are not in the truth",
            field="firm_id",
            value=first["firm_id"],
        )
    draws = _uniform(
        seed, latest["firm_id"].astype(str).tolist(), latest["as_of_date"].dt.strftime("%Y-%m-%d").tolist()
    )
    latest["booked"] = latest["approved"].to_numpy(dtype=bool) & (draws < spec.take_up)
    if observed_until is None:
        last = latest["as_of_date"].max() if len(latest) else pd.Timestamp("1970-01-01")
        observed_until = (last + pd.DateOffset(months=12)).date()
    view = spec.model_copy(update={"observed_until": observed_until})
    years = (int(latest["as_of_date"].dt.year.min() if len(latest) else 1970), observed_until.year)
    rows = performance(latest, truth, years, view, seed)
    rows = rows.merge(latest[[*KEY, "decision_id"]], on=KEY, how="left")
    summary = SimulatedOutcomes(
        decisions=len(frame),
        applications=len(latest),
        approved=int(latest["approved"].sum()),
        booked=int(latest["booked"].sum()),
        rows=len(rows),
        observed_until=observed_until,
    )
    return rows, summary


# ------------------------------------------------------------------------------------ import performance
PERFORMANCE_COLUMNS = ("firm_id", "as_of_date", "observation_date", "status", "default_12m")
#: statuses at or after which a loan has defaulted: a later ``current`` contradicts them
_DEFAULTED = frozenset({"dpd90", "written_off", "restructured"})


@dataclass(frozen=True)
class ImportSummary:
    """What ``outcomes import`` did with a file."""

    file_sha256: str
    rows: int
    kept: int
    already_stored: int
    refused: int
    already_imported_at: str | None = None


def _start_import(
    store: AuditStore,
    path: str | Path,
    errors_path: str | Path | None,
    required: tuple[str, ...] | list[str],
    what: str,
) -> tuple[OutcomeStore, str, ImportSummary | None, pd.DataFrame]:
    """The outcomes tables (created if missing), the file's SHA-256, what an earlier import of the same
    bytes did (an empty errors file is written: nothing is refused now), and — when there was none — the
    file's rows, which must have the ``required`` columns of ``what`` file."""
    from credit_points.datasets.io import read_table, write_table
    from credit_points.datasets.schema import ERROR_COLUMNS

    outcomes = OutcomeStore(store)
    outcomes.create_schema()
    digest = file_sha256(path)
    earlier = outcomes.imported(digest)
    if earlier is None:
        frame = read_table(Path(path))
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise DataValidationError(f"is not a {what} file: columns {missing} missing", path=str(path))
        return outcomes, digest, None, frame
    if errors_path is not None:
        write_table(pd.DataFrame(columns=ERROR_COLUMNS), errors_path)
    summary = ImportSummary(
        digest, earlier.rows, 0, earlier.kept + earlier.already_stored, 0, earlier.imported_at
    )
    return outcomes, digest, summary, pd.DataFrame()


def _day(value: object) -> str | None:
    """``YYYY-MM-DD`` of a date-like value, or None when it is not one."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    try:
        return pd.Timestamp(value).date().isoformat()  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


def import_performance(
    store: AuditStore,
    path: str | Path,
    *,
    errors_path: str | Path | None = None,
    today: dt.date | None = None,
) -> ImportSummary:
    """Validate a performance file, match each row to the decision that booked it, store the good rows.

    A row is matched by its ``decision_id`` when it carries one, else to the latest decision of its
    application (``firm_id`` + ``as_of_date``); that decision, after its officers' overrides, must be an
    approval. Refused rows (unmatched, an outcome for a declined applicant, duplicate, future-dated,
    contradictory, bad values) go to ``errors_path`` with row, firm, field, value and reason; the others
    are stored with the file's digest. A file imported before (same bytes) changes nothing.
    """
    from credit_points.audit.outcomes import ImportRecord, now
    from credit_points.datasets.io import write_table
    from credit_points.datasets.lender_view import STATUSES
    from credit_points.datasets.schema import ERROR_COLUMNS

    outcomes, digest, earlier, frame = _start_import(
        store, path, errors_path, PERFORMANCE_COLUMNS, "performance"
    )
    if earlier is not None:
        return earlier
    today = today or dt.date.today()
    problems: list[dict[str, object]] = []

    def refuse(i: int, fld: str, value: object, reason: str) -> None:
        problems.append({"row": i + 1, "firm_id": str(firms[i]), "field": fld,
                         "value": "" if value is None else str(value), "reason": reason})  # fmt: skip

    firms = frame["firm_id"].tolist()
    decisions = _decision_pool(store, outcomes)
    by_id = {r.decision_id: r for r in decisions.itertuples(index=False)}
    latest = {(r.firm_id, r.as_of_date): r for r in decisions.itertuples(index=False)}
    has_ids = "decision_id" in frame.columns
    seen: dict[tuple[str, str, str], int] = {}
    good: list[_Row] = []
    for i, raw in enumerate(frame.to_dict("records")):
        firm = raw.get("firm_id")
        firm = None if firm is None or (isinstance(firm, float) and firm != firm) else str(firm).strip()
        as_of, obs = _day(raw.get("as_of_date")), _day(raw.get("observation_date"))
        status, default = raw.get("status"), raw.get("default_12m")
        default = None if default is None or pd.isna(default) else default
        if not firm:
            refuse(i, "firm_id", firm, "is required")
            continue
        if as_of is None:
            refuse(i, "as_of_date", raw.get("as_of_date"), "is not a date")
            continue
        if obs is None:
            refuse(i, "observation_date", raw.get("observation_date"), "is not a date")
            continue
        if obs < as_of:
            refuse(i, "observation_date", obs, f"is before the decision date {as_of}")
            continue
        if obs > today.isoformat():
            refuse(i, "observation_date", obs, f"is future-dated (after {today.isoformat()})")
            continue
        if status not in STATUSES:
            refuse(i, "status", status, f"must be one of {', '.join(STATUSES)}")
            continue
        if default is not None and default not in (0, 1):
            refuse(i, "default_12m", default, "must be 0, 1 or empty (window not closed)")
            continue
        if default == 1 and status == "current":
            refuse(
                i,
                "default_12m",
                default,
                "contradicts status current (a default closes as written_off or restructured)",
            )
            continue
        key = (firm, as_of, obs)
        if key in seen:
            refuse(
                i,
                "observation_date",
                obs,
                f"duplicate of row {seen[key] + 1} (same loan and observation date)",
            )
            continue
        seen[key] = i
        wanted = raw.get("decision_id") if has_ids else None
        wanted = (
            None
            if wanted is None or (isinstance(wanted, float) and wanted != wanted) or wanted == ""
            else str(wanted)
        )
        decision = by_id.get(wanted) if wanted is not None else latest.get((firm, as_of))
        if wanted is not None and decision is None:
            refuse(i, "decision_id", wanted, "unmatched: no audited decision has this id")
            continue
        if decision is None:
            refuse(i, "firm_id", firm, f"unmatched: no decision of this application ({as_of}) to book")
            continue
        if (decision.firm_id, decision.as_of_date) != (firm, as_of):
            refuse(
                i,
                "decision_id",
                wanted,
                f"is the decision of {decision.firm_id} on {decision.as_of_date}, not this application",
            )
            continue
        if not decision.approved:
            state = f"decision in force: {decision.decision}" + (
                ", not booked" if decision.decision == "approve" else ""
            )
            refuse(i, "decision_id" if wanted else "firm_id", wanted or firm,
                   f"an outcome for an applicant not approved or not booked ({state})")  # fmt: skip
            continue
        good.append(
            _Row(
                i,
                decision.decision_id,
                firm,
                as_of,
                obs,
                str(status),
                None if default is None else int(default),
            )
        )
    kept, already = _consistent(good, outcomes.stored(g.decision_id for g in good), refuse)
    record = ImportRecord(
        digest, "performance", Path(path).name[:400], now(), len(frame), len(kept), already, len(problems)
    )
    outcomes.append(record, [g.stored(digest) for g in kept])
    if errors_path is not None:
        errors = pd.DataFrame(problems, columns=ERROR_COLUMNS).sort_values("row", kind="stable")
        write_table(errors, errors_path)
    return ImportSummary(digest, len(frame), len(kept), already, len(problems))


@dataclass
class _Row:
    """A performance row that passed the checks of its own, matched to the decision that booked it."""

    row: int
    decision_id: str
    firm_id: str
    as_of_date: str
    observation_date: str
    status: str
    default_12m: int | None

    def stored(self, digest: str) -> dict[str, object]:
        return {"decision_id": self.decision_id, "firm_id": self.firm_id, "as_of_date": self.as_of_date,
                "observation_date": self.observation_date, "status": self.status,
                "default_12m": self.default_12m, "file_sha256": digest}  # fmt: skip


def _decision_pool(store: AuditStore, outcomes: OutcomeStore) -> pd.DataFrame:
    """Decisions a performance row may match: the bank's historical book first, then the audited ones
    (later), each with its decision in force and whether it is an approval that could book."""
    history = pd.DataFrame(
        outcomes.historical(),
        columns=["decision_id", "firm_id", "as_of_date", "decision", "booked", "previous_model_pd"],
    )
    history["approved"] = history["booked"].astype(bool)  # the historical book says which loans were drawn
    audited = decisions_from_audit(store)
    pool = pd.concat([history[[*KEY, "decision", "decision_id", "approved"]], audited], ignore_index=True)
    pool["as_of_date"] = pool["as_of_date"].astype(str)
    return pool


def _consistent(
    good: list[_Row],
    stored: dict[tuple[str, str], tuple[str, int | None]],
    refuse: Callable[[int, str, object, str], None],
) -> tuple[list[_Row], int]:
    """The rows to store: neither already stored (same values) nor contradicting the loan's other rows.

    A loan's rows (stored and new) are read in observation order: ``current`` after a default
    (``dpd90``, ``written_off``, ``restructured`` or ``default_12m`` 1) is a contradiction, as is a row
    whose observation date is stored with other values.
    """
    kept: list[_Row] = []
    already = 0
    by_loan: dict[str, list[_Row]] = {}
    for g in good:
        by_loan.setdefault(g.decision_id, []).append(g)
    stored_by_loan: dict[str, dict[str, tuple[str, int | None]]] = {}
    for (d, obs), value in stored.items():
        stored_by_loan.setdefault(d, {})[obs] = value
    for did, rows in by_loan.items():
        history = stored_by_loan.get(did, {})
        fresh: list[_Row] = []
        for g in rows:
            old = history.get(g.observation_date)
            if old is None:
                fresh.append(g)
            elif old == (g.status, g.default_12m):
                already += 1
            else:
                refuse(g.row, "status", g.status,
                       f"contradicts the stored row of {g.observation_date} ({old[0]}, default_12m {old[1]})")  # fmt: skip
        timeline: list[tuple[str, str, int | None, _Row | None]] = sorted(
            [(obs, s, d, None) for obs, (s, d) in history.items()]
            + [(g.observation_date, g.status, g.default_12m, g) for g in fresh],
            key=lambda t: t[0],
        )
        defaulted_at: str | None = None
        for obs, status, default, row in timeline:
            if status == "current" and defaulted_at is not None:
                if row is not None:
                    refuse(row.row, "status", status, f"current after a default observed on {defaulted_at}")
                    fresh.remove(row)
                continue
            if status in _DEFAULTED or default == 1:
                defaulted_at = defaulted_at or obs
        kept.extend(fresh)
    return kept, already


# ------------------------------------------------------------------------------------ training table
#: what a dataset row says about its outcome
OUTCOME_STATES = ("matured", "booked_not_matured", "no_outcome")


def build_dataset(
    store: AuditStore,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    model_version: str | None = None,
    workers: int | None = None,
    slice_rows: int = 20_000,
) -> pd.DataFrame:
    """The point-in-time training table: each application's audited decision with its outcome.

    One row per application (``firm_id`` + ``as_of_date``) decided in the window (decision dates, both
    ends included) — by ``model_version`` only, when given: the decision that booked a loan when one did,
    else the latest. Inputs are the **stored canonical input of that decision** (what was known when it
    was decided: a field that changed later cannot leak in), with the decision, its model version and the
    points (``points_total_decided``, core, bonus, deductions, ``points_cat_<id>_decided`` per category and
    the ``points_config_hash`` they were computed under), grade and PD as decided, and the product, limit
    and expected loss the model's decision offered (``product_decided``, ``limit_decided``,
    ``expected_loss_decided``; before any override). ``outcome`` is
    ``matured`` (``default_12m`` 0/1: the 12-month window closed), ``booked_not_matured`` (booked, window
    open) or ``no_outcome`` (declined, referred and not approved, or approved and never drawn: for reject
    inference, never a target). The bank's historical decisions (``outcomes import --history``) come too,
    with ``source`` ``history`` (their inputs as known then, ``previous_model_pd``; no points or PD of this
    product), unless ``model_version`` is given.

    The audit log is read up to its head when the call starts, in slices of ``slice_rows`` rows (``seq``
    ranges), by ``workers`` processes at once (default: the machine's cores, up to 4, when the log holds
    ``5 * slice_rows`` rows or more; one process otherwise or for an in-memory store). Slices are joined in
    chain order: the table does not depend on how many processes read it.
    """
    outcomes = OutcomeStore(store)
    outcomes.create_schema()
    first, last = (since.isoformat() if since else ""), (until.isoformat() if until else "\uffff")
    head = store.head()[0]
    bounds = [(lo, min(lo + slice_rows - 1, head)) for lo in range(1, head + 1, slice_rows)]
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if head >= 5 * slice_rows else 1
    database = sa.engine.make_url(store.url).database
    if store.dialect == "sqlite" and database in (None, "", ":memory:"):
        workers = 1  # another process cannot open it
    args = (model_version, first, last)
    if workers > 1 and len(bounds) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(
            min(workers, len(bounds)), mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            futures = [
                pool.submit(_read_audit_slice, store.url, store.prefix, lo, hi, *args) for lo, hi in bounds
            ]
            slices = [f.result() for f in futures]
    else:
        slices = [_audit_slice(outcomes, lo, hi, *args) for lo, hi in bounds]
    if model_version is None:
        slices.append(_history_slice(outcomes, first, last))
    overrides: dict[str, str] = {}
    for part in slices:  # chain order: the last override of a decision is the one in force
        overrides.update(part.overrides)
    slices = [s for s in slices if len(s.decided)]
    if not slices:
        return pd.DataFrame()
    decided = pd.concat([s.decided for s in slices], ignore_index=True)
    for name in _NUMBERS:  # a history slice has none of them: object columns of None until here
        decided[name] = decided[name].astype("float64")
    import pyarrow as pa

    given = pa.concat_tables([s.inputs for s in slices]).to_pandas()
    given = given.drop(columns=["firm_id", "as_of_date"], errors="ignore")
    by_category = [c for c in decided.columns if c.startswith("points_cat_")]
    at = _DATASET_COLUMNS.index("points_config_hash")
    frame = pd.concat(
        [
            decided[list(_DATASET_COLUMNS[:5])],
            given,
            decided[[*_DATASET_COLUMNS[5:at], *by_category, *_DATASET_COLUMNS[at:]]],
        ],
        axis=1,
    )
    frame["decision"] = frame["decision_id"].map(overrides).fillna(frame["decision_as_decided"])
    performance = pd.DataFrame({"default_12m": pd.Series(outcomes.closed_outcomes(), dtype="float64")})
    frame["booked"] = frame["decision_id"].isin(performance.index)
    # per application: the decision that booked, else the latest
    frame = frame.sort_values(["booked", "seq"], kind="stable").drop_duplicates(KEY, keep="last")
    frame = frame.sort_values("seq", kind="stable").reset_index(drop=True)
    closed = (
        frame["decision_id"].map(performance["default_12m"])
        if len(performance)
        else pd.Series(pd.NA, index=frame.index)
    )
    frame["default_12m"] = pd.array(closed, dtype="Int8")
    frame["outcome"] = np.where(
        frame["default_12m"].notna(), "matured", np.where(frame["booked"], "booked_not_matured", "no_outcome")
    )
    return frame


@dataclass
class _Slice:
    """Part of a training table: dataset columns (``_DATASET_COLUMNS`` and ``points_cat_*_decided``), the
    inputs as an Arrow table (same rows), and the decisions that overrides in the slice set."""

    decided: pd.DataFrame
    inputs: Any  # pyarrow.Table
    overrides: dict[str, str]


def _read_audit_slice(
    url: str, prefix: str, start: int, stop: int, model_version: str | None, first: str, last: str
) -> _Slice:
    """:func:`_audit_slice` in a worker process, over its own connection to the store."""
    store = AuditStore(url, table_prefix=prefix)
    try:
        return _audit_slice(OutcomeStore(store), start, stop, model_version, first, last)
    finally:
        store.dispose()


def _audit_slice(
    outcomes: OutcomeStore, start: int, stop: int, model_version: str | None, first: str, last: str
) -> _Slice:
    """The decisions of audit rows ``start``..``stop`` that the table keeps, read column by column."""
    columns: dict[str, list[Any]] = {name: [] for name in _FROM_PARTS}
    inputs: list[str] = []
    categories: list[dict[str, Any] | None] = []
    overrides: dict[str, str] = {}
    for chunk in outcomes.decision_columns(raw_input=True, start_seq=start, stop_seq=stop):
        for kind, parent, new in zip(chunk["kind"], chunk["parent_id"], chunk["decision"], strict=True):
            if kind in OVERRIDE_KINDS and new is not None and parent is not None:
                overrides[parent] = str(new)
        days = ["" if d is None else str(d) for d in chunk["as_of_date"]]
        keep = [
            kind == "decision"
            and (model_version is None or version == model_version)
            and first <= day <= last
            for kind, version, day in zip(chunk["kind"], chunk["model_version"], days, strict=True)
        ]
        if not any(keep):
            continue
        for name, part in _FROM_PARTS.items():
            columns[name].extend(compress(days if part == "as_of_date" else chunk[part], keep))
        inputs.extend(map(_json_text, compress(chunk["input"], keep)))
        categories.extend(compress(chunk["points_categories"], keep))
    decided = pd.DataFrame(columns)
    decided["previous_model_pd"] = np.nan
    decided["source"] = "audit"
    decided = pd.concat([decided, _categories_frame(categories, columns["points_config_hash"])], axis=1)
    return _Slice(decided, _inputs_table(inputs), overrides)


def _history_slice(outcomes: OutcomeStore, first: str, last: str) -> _Slice:
    """The bank's historical decisions dated in the window (no points or PD of this product)."""
    columns: dict[str, list[Any]] = {name: [] for name in _DATASET_COLUMNS}
    inputs: list[str] = []
    for old in outcomes.historical(with_input=True):
        day = str(old["as_of_date"])
        if not first <= day <= last:
            continue
        for name, value in zip(
            _DATASET_COLUMNS,
            (old["decision_id"], 0, None, None, old["decision"], old["firm_id"], day, None, None, None, None,
             None, None, None, None, None, None, None, old["previous_model_pd"], "history"),
            strict=True,
        ):  # fmt: skip
            columns[name].append(value)
        inputs.append(old["input_json"])
    return _Slice(pd.DataFrame(columns), _inputs_table(inputs), {})


#: the dataset's columns read from an audit row (``DecisionParts`` fields), in order
_FROM_PARTS = {
    "decision_id": "decision_id",
    "seq": "seq",
    "decided_at": "created_at",
    "model_version": "model_version",
    "decision_as_decided": "decision",
    "firm_id": "firm_id",
    "as_of_date": "as_of_date",
    "points_stage": "points_stage",
    "points_total_decided": "points_total",
    "points_core_decided": "points_core",
    "points_bonus_decided": "points_bonus",
    "points_deductions_decided": "points_deductions",
    "points_config_hash": "points_config_hash",
    "grade_decided": "grade",
    "prob_default_decided": "prob_default",
    "product_decided": "product",
    "limit_decided": "limit",
    "expected_loss_decided": "expected_loss",
}

#: the dataset's columns (besides the input) that hold numbers
_NUMBERS = (
    "points_total_decided",
    "points_core_decided",
    "points_bonus_decided",
    "points_deductions_decided",
    "prob_default_decided",
    "limit_decided",
    "expected_loss_decided",
    "previous_model_pd",
)

#: the dataset's columns besides the applicant's input, in the order they are filled
_DATASET_COLUMNS = (
    "decision_id",
    "seq",
    "decided_at",
    "model_version",
    "decision_as_decided",
    "firm_id",
    "as_of_date",
    "points_stage",
    "points_total_decided",
    "points_core_decided",
    "points_bonus_decided",
    "points_deductions_decided",
    "points_config_hash",
    "grade_decided",
    "prob_default_decided",
    "product_decided",
    "limit_decided",
    "expected_loss_decided",
    "previous_model_pd",
    "source",
)


def _json_text(value: Any) -> str:
    """A record part as JSON text (the database hands back text; an older SQLite's parsed record, objects)."""
    return value if isinstance(value, str) else json.dumps(value if value is not None else {})


def _categories_frame(categories: list[Any], hashes: list[Any]) -> pd.DataFrame:
    """``points_cat_<id>_decided`` (float64) for every category a decision's points configuration names
    (``categories``: each decision's ``{id: points}``, ``None`` where it has none; ``hashes``: the
    configuration each was computed under)."""
    names: dict[str, None] = {}
    for i in pd.Series(hashes, dtype=object).drop_duplicates().index:  # one look per configuration
        names.update(dict.fromkeys(categories[i] or {}))
    return pd.DataFrame(
        {
            f"points_cat_{name}_decided": np.array(
                [None if c is None else c.get(name) for c in categories], dtype="float64"
            )
            for name in names
        },
        index=pd.RangeIndex(len(categories)),
    )


def _inputs_table(texts: list[str]) -> Any:
    """The canonical inputs (JSON objects, one per text) as an Arrow table, parsed at once by Arrow's JSON
    reader with the catalogue's types (numbers as float64, exactly as stored; dates stay ``YYYY-MM-DD``
    text)."""
    import io

    import pyarrow as pa
    import pyarrow.json as pj

    from credit_points.datasets.fields import load_fields

    arrow_type = {"float": pa.float64(), "int": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema(
        [(f.name, arrow_type.get(f.dtype, pa.string())) for f in load_fields().fields if f.group != "outcome"]
    )
    if not texts:
        return schema.empty_table()
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    return pj.read_json(
        io.BytesIO("\n".join(texts).encode("utf-8")),
        parse_options=options,
        read_options=pj.ReadOptions(block_size=1 << 26),
    )


# ------------------------------------------------------------------------------- historical decisions
HISTORY_COLUMNS = ("decision", "booked")


def history_id(firm_id: str, as_of_date: str) -> str:
    """A historical decision's id: ``h`` + 31 hex of the SHA-256 of its application (stable across imports)."""
    return "h" + hashlib.sha256(f"{firm_id}\x1f{as_of_date}".encode()).hexdigest()[:31]


def import_history(
    store: AuditStore, path: str | Path, *, errors_path: str | Path | None = None
) -> ImportSummary:
    """Import the bank's historical decisions (inputs as known then, decision, ``booked``).

    They are kept in their own table, marked as not decided by this product (never in the hash chain), so
    that performance rows can match them and a first retraining can learn from the historical book. The
    inputs pass the applicant catalogue's validation; a bad row, an unknown decision, ``booked`` on a
    decline, or an application already in the file is refused and reported; a file imported before
    changes nothing; an application stored before with the same values is counted, with other values refused.
    """
    from credit_points.audit.outcomes import ImportRecord, now
    from credit_points.config import canonical_json
    from credit_points.datasets.fields import load_fields
    from credit_points.datasets.io import write_table
    from credit_points.datasets.schema import ERROR_COLUMNS, validate_applicants
    from credit_points.records import input_records

    outcomes, digest, earlier, frame = _start_import(
        store, path, errors_path, HISTORY_COLUMNS, "historical decisions"
    )
    if earlier is not None:
        return earlier
    fields = load_fields()
    names = [f.name for f in fields.fields if f.group != "outcome"]
    good, errors = validate_applicants(
        frame.drop(columns=[c for c in ("default_12m",) if c in frame.columns]), fields, path=str(path)
    )
    problems = errors.to_dict("records")
    firms = frame["firm_id"].astype(str).tolist()

    def refuse(i: int, fld: str, value: object, reason: str) -> None:
        problems.append({"row": i + 1, "firm_id": firms[i], "field": fld,
                         "value": "" if value is None else str(value), "reason": reason})  # fmt: skip

    inputs = input_records(good, names)
    stored = {(r["firm_id"], r["as_of_date"]): r for r in outcomes.historical()}
    seen: dict[tuple[str, str], int] = {}
    rows: list[dict[str, object]] = []
    already = 0
    for i, inp in zip(good.index.tolist(), inputs, strict=True):
        decision, booked = frame.at[i, "decision"], frame.at[i, "booked"]  # noqa: PD008 - one cell
        pd_prev = frame.at[i, "previous_model_pd"] if "previous_model_pd" in frame.columns else None  # noqa: PD008
        key = (str(inp["firm_id"]), str(inp["as_of_date"]))
        if decision not in ("approve", "refer", "decline"):
            refuse(i, "decision", decision, "must be approve, refer or decline")
            continue
        if booked not in (True, False, 0, 1) or pd.isna(booked):
            refuse(i, "booked", booked, "must be true or false")
            continue
        if bool(booked) and decision != "approve":
            refuse(i, "booked", booked, f"a loan booked on a {decision}")
            continue
        if key in seen:
            refuse(i, "as_of_date", key[1], f"duplicate of row {seen[key] + 1} (same application)")
            continue
        seen[key] = i
        prev = None if pd_prev is None or pd.isna(pd_prev) else float(pd_prev)
        row = {"decision_id": history_id(*key), "firm_id": key[0], "as_of_date": key[1], "decision": decision,
               "booked": bool(booked), "previous_model_pd": prev, "input_json": canonical_json(inp),
               "file_sha256": digest}  # fmt: skip
        old = stored.get(key)
        if old is not None:
            same = (old["decision"], bool(old["booked"]), old["previous_model_pd"]) == (
                decision,
                bool(booked),
                prev,
            )
            if same:
                already += 1
            else:
                refuse(
                    i, "decision", decision, f"contradicts the stored historical decision ({old['decision']})"
                )
            continue
        rows.append(row)
    record = ImportRecord(
        digest, "history", Path(path).name[:400], now(), len(frame), len(rows), already, len(problems)
    )
    outcomes.append(record, rows, table=outcomes.history)
    if errors_path is not None:
        write_table(
            pd.DataFrame(problems, columns=ERROR_COLUMNS).sort_values("row", kind="stable"), errors_path
        )
    return ImportSummary(digest, len(frame), len(rows), already, len({p["row"] for p in problems}))


def dataset_manifest(store: AuditStore, frame: pd.DataFrame) -> dict[str, object]:
    """What a training table was built from: the audit range it read, and the outcome files imported.

    ``train`` logs it in its MLflow run, so a model version leads back to the decisions and outcomes
    that trained it.
    """
    outcomes = OutcomeStore(store)
    audited = frame.loc[frame["source"] == "audit"] if len(frame) else frame
    return {
        "kind": "credit-points-outcomes-dataset",
        "audit_store": store.safe_url,
        "rows": len(frame),
        "outcomes": frame["outcome"].value_counts().to_dict() if len(frame) else {},
        "audit_seq": [int(audited["seq"].min()), int(audited["seq"].max())] if len(audited) else [],
        "decision_dates": [str(frame["as_of_date"].min()), str(frame["as_of_date"].max())]
        if len(frame)
        else [],
        "outcome_files": [r.__dict__ for r in outcomes.imports_list()],
    }
