"""Batch scoring: stream applicants in chunks through the decision engine, write decisions, errors, summary.

Memory stays bounded by the chunk size whatever the file's length: decisions are appended to a Parquet
(or CSV) writer chunk by chunk and the portfolio summary is built from running sums.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from credit_points.datasets.fields import FieldsConfig
from credit_points.engine import DecisionEngine
from credit_points.exceptions import DataValidationError

if TYPE_CHECKING:
    from credit_points.audit.store import AuditStore, BatchAppend, EncodedDecisions

#: ``client_id`` of the audit rows ``score --audit`` writes: its row keys are one namespace, whoever runs it
BATCH_CLIENT_ID = "cli:score"

SUMMARY_KEYS = (
    "applicants",
    "approved",
    "referred",
    "declined",
    "total_limit",
    "expected_loss_net",
    "rate_x_limit",
)


@dataclass
class PortfolioSummary:
    """Running totals of a scored portfolio, overall and by stage and product."""

    rows: int = 0
    bad_rows: int = 0
    #: with ``--audit``: decisions written to the audit store by this run, and those it found already there
    audited_new: int = 0
    audited_existing: int = 0
    #: unknown columns of the file dropped before deciding (``--drop-unknown-columns``)
    dropped_columns: tuple[str, ...] = ()
    groups: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def add(self, decided: pd.DataFrame) -> None:
        self.rows += len(decided)
        limit = decided["limit"].to_numpy(dtype=float)
        frame = pd.DataFrame(
            {
                "stage": decided["stage"].astype(str).to_numpy(),
                "product": decided["product"].astype(str).replace("", "-").to_numpy(),
                "applicants": 1,
                "approved": (decided["decision"] == "approve").to_numpy().astype(int),
                "referred": (decided["decision"] == "refer").to_numpy().astype(int),
                "declined": (decided["decision"] == "decline").to_numpy().astype(int),
                "total_limit": limit,
                "expected_loss_net": decided["expected_loss_net"].to_numpy(dtype=float),
                "rate_x_limit": np.nan_to_num(decided["rate"].to_numpy(dtype=float)) * limit,
            }
        )
        sums = frame.groupby(["stage", "product"]).sum()
        for key, row in sums.iterrows():
            acc = self.groups.setdefault(key, dict.fromkeys(SUMMARY_KEYS, 0.0))  # type: ignore[arg-type]
            for name in SUMMARY_KEYS:
                acc[name] += float(row[name])

    def table(self, by: str | None = None) -> pd.DataFrame:
        """Summary overall (``by=None``) or by ``stage`` or ``product``."""
        frame = pd.DataFrame(
            [{"stage": s, "product": p, **v} for (s, p), v in self.groups.items()],
            columns=["stage", "product", *SUMMARY_KEYS],
        )
        if by is None:
            frame = frame[list(SUMMARY_KEYS)].sum().to_frame().T
            frame.index = pd.Index(["all"])
        else:
            frame = frame.groupby(by)[list(SUMMARY_KEYS)].sum()
        out = pd.DataFrame(index=frame.index)
        out["applicants"] = frame["applicants"].astype(int)
        out["approval_rate"] = frame["approved"] / frame["applicants"].where(frame["applicants"] > 0)
        out["refer_rate"] = frame["referred"] / frame["applicants"].where(frame["applicants"] > 0)
        out["total_limit"] = frame["total_limit"]
        out["expected_loss_net"] = frame["expected_loss_net"]
        out["el_rate"] = frame["expected_loss_net"] / frame["total_limit"].where(frame["total_limit"] > 0)
        out["avg_rate"] = frame["rate_x_limit"] / frame["total_limit"].where(frame["total_limit"] > 0)
        return out


class TableWriter:
    """Append frames to one Parquet or CSV file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: Any = None
        self._schema: Any = None
        self._csv_started = False
        self.written = False
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: pd.DataFrame) -> None:
        self.written = True
        if self.path.suffix == ".csv":
            frame.to_csv(
                self.path, mode="a" if self._csv_started else "w", header=not self._csv_started, index=False
            )
            self._csv_started = True
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, self._schema)
        else:
            table = table.cast(self._schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


@dataclass
class BatchAudit:
    """Records a scored file's decisions in the audit store, as the API records its own (``score --audit``).

    Each row's record is the API's (``record_text.encode_records``: the same bytes), chained in the same
    store. Its idempotency key (:func:`row_keys`) is made of the application (firm and date), its input
    hash, the model version and the policy hash: re-scoring the same file with the same model and policy
    finds every row already there and writes nothing, while a new model or policy decides anew. The rows
    are written in slices of ``slice_rows``, each its own transaction, while the next slice is encoded; a
    run cut short leaves whole slices behind, which the next run finds by their keys.
    """

    store: AuditStore
    request_id: str
    slice_rows: int = 20_000
    #: a challenger deciding the same rows in shadow (``score --audit --shadow``): its decisions go to the
    #: shadow table keyed by the champion's decision ids, never into the chain or the output
    shadow: DecisionEngine | None = None
    shadow_rows: int = 0

    def record_shadow(self, good: pd.DataFrame, decision_ids: list[str]) -> None:
        """Decide ``good`` with the shadow engine and store its decisions beside ``decision_ids``."""
        if self.shadow is None or not decision_ids:
            return
        from credit_points.audit.shadow import ShadowStore, shadow_rows

        decided = self.shadow.decide(good, explain="none")
        self.shadow_rows += ShadowStore(self.store).append(
            self.shadow.identity.as_dict(), shadow_rows(decision_ids, decided)
        )

    def record(self, engine: DecisionEngine, decided: pd.DataFrame, summary: PortfolioSummary) -> list[str]:
        """Store the decisions of ``decided`` (decided with ``explain="adverse"``); their ids, in row order.

        Each slice is keyed from its inputs first: rows already stored under their key get their earlier
        id without their record being built again; the others are encoded and appended (the store checks
        the keys again inside its transaction, so a concurrent run cannot write a row twice).
        """
        from credit_points.record_text import encode_inputs

        ids: list[str] = []
        pending: Future[tuple[list[str], np.ndarray, BatchAppend | None]] | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="audit-writer") as writer:
            for start in range(0, len(decided), self.slice_rows):
                part = decided.iloc[start : start + self.slice_rows]
                inputs = encode_inputs(engine, part)
                keys = row_keys(engine, part, inputs.sha256)
                known = self.store.find_keys(BATCH_CLIENT_ID, keys)
                todo = np.array([k not in known for k in keys], dtype=bool)
                found = [known.get(k, "") for k in keys]
                batch = self._encode(engine, part, inputs, keys, todo) if todo.any() else None
                future = writer.submit(self._append, batch, todo, found)
                if pending is not None:
                    ids.extend(self._collect(pending, summary))
                pending = future
            if pending is not None:
                ids.extend(self._collect(pending, summary))
        return ids

    @staticmethod
    def _encode(
        engine: DecisionEngine, part: pd.DataFrame, inputs: Any, keys: list[str], todo: np.ndarray
    ) -> tuple[EncodedDecisions, list[str]]:
        """The records of the slice's rows not stored yet, with the indexed values and their keys."""
        from credit_points.audit.store import EncodedDecisions
        from credit_points.record_text import encode_records

        rows = np.flatnonzero(todo)
        encoded = encode_records(engine, part.iloc[rows], inputs=inputs.take(rows))
        n = len(encoded)
        model = engine.identity.as_dict()
        indexed: dict[str, list[Any]] = {
            "points_config_version": [engine.points_config.version] * n,
            "points_config_hash": [engine.versions["points"]["hash"]] * n,
            "model_name": [model["name"]] * n,
            "model_version": [model["version"]] * n,
            "model_artifact_hash": [model["artifact_hash"]] * n,
            "model_feature_order_hash": [engine.feature_order_hash] * n,
            "input_sha256": encoded.input_sha256,
            "prob_default": encoded.prob_default,
            "limit_amount": encoded.limit,
            "decision": encoded.decision,
        }
        records = EncodedDecisions(encoded.texts, encoded.record_sha256, indexed)
        return records, [keys[i] for i in rows.tolist()]

    def _append(
        self, batch: tuple[EncodedDecisions, list[str]] | None, todo: np.ndarray, found: list[str]
    ) -> tuple[list[str], np.ndarray, BatchAppend | None]:
        """Append a slice's new rows (on the writer thread, while the next slice is encoded); ids in row order."""
        if batch is None:
            return found, todo, None
        records, keys = batch
        appended = self.store.append_encoded(
            records, request_id=self.request_id, client_id=BATCH_CLIENT_ID, idempotency_keys=keys
        )
        ids = list(found)
        for i, did in zip(np.flatnonzero(todo).tolist(), appended.decision_ids, strict=True):
            ids[i] = did
        return ids, todo, appended

    @staticmethod
    def _collect(
        done: Future[tuple[list[str], np.ndarray, BatchAppend | None]], summary: PortfolioSummary
    ) -> list[str]:
        ids, todo, appended = done.result()
        added = appended.added if appended is not None else 0
        summary.audited_new += added
        summary.audited_existing += len(ids) - added
        return ids


def row_keys(engine: DecisionEngine, decided: pd.DataFrame, input_sha256: list[str]) -> list[str]:
    """Each row's audit key: SHA-256 of its firm, date, input hash, model version and policy hash."""
    from credit_points.config import sha256_text

    version = str(engine.identity.version)
    policy_hash = engine.versions["policy"]["hash"]
    firms = decided["firm_id"].astype(str).tolist()
    dates = pd.to_datetime(decided["as_of_date"]).dt.strftime("%Y-%m-%d").tolist()
    return [
        "score:" + sha256_text(f"{f}\x1f{d}\x1f{h}\x1f{version}\x1f{policy_hash}")
        for f, d, h in zip(firms, dates, input_sha256, strict=True)
    ]


def output_columns(decided: pd.DataFrame) -> list[str]:
    """Decision columns written for a portfolio: the inputs (the firm's name too: a report rebuilt from the
    file names the firm), points, PD, policy and reasons; contributions stay out (reports recompute them)."""
    return [c for c in decided.columns if not c.startswith("contrib_")]


def score_file(
    engine: DecisionEngine,
    in_path: str | Path,
    out_path: str | Path,
    *,
    errors_path: str | Path | None = None,
    chunk_rows: int = 100_000,
    explain: str = "adverse",
    progress: Callable[[int], None] | None = None,
    drop_unknown_columns: bool = False,
    audit: BatchAudit | None = None,
) -> PortfolioSummary:
    """Score a CSV/Parquet file chunk by chunk; bad rows go to ``errors_path`` with their reasons.

    The file's columns pass :func:`columns_to_drop` before any work. A run that is not refused always
    writes ``out_path``: with no decided row (a header-only file, or every row bad) it holds no rows and
    the decision columns. With ``audit``, every decided row is recorded in the audit store before its
    chunk is written, and its ``decision_id`` is the output's second column (bad rows are not recorded).
    """
    if audit is not None and explain != "adverse":
        raise DataValidationError(
            "audited decisions are explained as the API explains them (adverse)",
            field="explain",
            value=explain,
        )
    from credit_points.datasets.io import iter_table_chunks
    from credit_points.datasets.schema import empty_errors

    in_path, out_path = Path(in_path), Path(out_path)
    if out_path.suffix not in {".parquet", ".csv"}:
        raise DataValidationError("output must end in .parquet or .csv", path=str(out_path))
    drop_columns = columns_to_drop(in_path, engine.fields, drop_unknown=drop_unknown_columns)
    writer = TableWriter(out_path)
    error_writer = TableWriter(Path(errors_path)) if errors_path else None
    summary = PortfolioSummary(dropped_columns=tuple(drop_columns))
    offset = 0
    try:
        for raw_chunk in iter_table_chunks(in_path, chunk_rows=chunk_rows):
            chunk = raw_chunk.drop(columns=list(drop_columns)).reset_index(drop=True)
            good, errors = validate_for(engine, chunk, str(in_path))
            if len(errors):
                errors = errors.assign(row=errors["row"] + offset)
                summary.bad_rows += errors["row"].nunique()
                if error_writer is not None:
                    error_writer.write(errors.astype({"value": str}))
            if len(good):
                decided = engine.decide(good, explain=explain)  # type: ignore[arg-type]
                decided.insert(0, "row", good.index.to_numpy() + 1 + offset)
                if audit is not None:
                    decided.insert(1, "decision_id", audit.record(engine, decided, summary))
                    audit.record_shadow(good, decided["decision_id"].tolist())
                writer.write(decided[output_columns(decided)])
                summary.add(decided)
            offset += len(chunk)
            if progress is not None:
                progress(len(chunk))
        if not writer.written:
            empty = empty_decisions(engine)
            if audit is not None:
                empty.insert(1, "decision_id", pd.Series([], dtype=object))
            writer.write(empty)
        if error_writer is not None and not error_writer.written:
            error_writer.write(empty_errors())
    finally:
        writer.close()
        if error_writer is not None:
            error_writer.close()
    return summary


def columns_to_drop(in_path: str | Path, fields: FieldsConfig | None, *, drop_unknown: bool) -> list[str]:
    """The file's columns checked once, from its header, before any work (``schema.decision_columns``):
    an outcome column or an unknown one refuses the file; with ``drop_unknown`` the unknown ones are
    returned, to be dropped from every chunk and listed to the user."""
    from credit_points.datasets.io import read_columns
    from credit_points.datasets.schema import decision_columns

    return decision_columns(read_columns(in_path), fields, drop_unknown=drop_unknown, path=str(in_path))


def validate_for(engine: DecisionEngine, chunk: pd.DataFrame, path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A chunk's good rows and its errors: the catalogue's rules, then what this model cannot decide.

    A row whose zone the model's reference population does not know is refused like a bad value (its
    ranks, and any rule on them, would mean nothing), naming the zones the model knows.
    """
    from credit_points.datasets.rules import Problem
    from credit_points.datasets.schema import error_rows, validate_applicants

    good, errors = validate_applicants(chunk, path=path)
    unknown = engine.unknown_zones(good)
    if not unknown.any():
        return good, errors
    # positions in the chunk (validate_applicants keeps its index), worded and typed like every error row
    refused = Problem(
        good.index.to_numpy()[unknown], engine.points_config.zone_field, engine.unknown_zone_reason()
    )
    errors = pd.concat([errors, error_rows(chunk, [refused], engine.fields)], ignore_index=True)
    return good.loc[~unknown], errors.sort_values("row", kind="stable").reset_index(drop=True)


def empty_decisions(engine: DecisionEngine) -> pd.DataFrame:
    """No decision, with the columns and types a decided portfolio has (the file of a run with no good row)."""
    from credit_points.datasets.record import applicants_to_frame

    decided = engine.decide(applicants_to_frame([], engine.fields), explain="none")
    decided.insert(0, "row", np.zeros(0, dtype="int64"))
    return decided[output_columns(decided)]
