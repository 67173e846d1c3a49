"""Batch scoring: stream applicants in chunks through the decision engine, write decisions, errors, summary.

Memory stays bounded by the chunk size whatever the file's length: decisions are appended to a Parquet
(or CSV) writer chunk by chunk and the portfolio summary is built from running sums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from credit_points.engine import DecisionEngine
from credit_points.exceptions import DataValidationError

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
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: pd.DataFrame) -> None:
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


def output_columns(decided: pd.DataFrame) -> list[str]:
    """Decision columns written for a portfolio (inputs' identity, points, PD, policy, reasons)."""
    drop_prefix = ("contrib_",)
    return [c for c in decided.columns if not c.startswith(drop_prefix) and c != "name"]


def score_file(
    engine: DecisionEngine,
    in_path: str | Path,
    out_path: str | Path,
    *,
    errors_path: str | Path | None = None,
    chunk_rows: int = 100_000,
    explain: str = "adverse",
    progress: Callable[[int], None] | None = None,
) -> PortfolioSummary:
    """Score a CSV/Parquet file chunk by chunk; bad rows go to ``errors_path`` with their reasons."""
    from credit_points.datasets.io import iter_table_chunks
    from credit_points.datasets.schema import validate_applicants

    in_path, out_path = Path(in_path), Path(out_path)
    if out_path.suffix not in {".parquet", ".csv"}:
        raise DataValidationError("output must end in .parquet or .csv", path=str(out_path))
    writer = TableWriter(out_path)
    error_writer = TableWriter(Path(errors_path)) if errors_path else None
    summary = PortfolioSummary()
    offset = 0
    try:
        for raw_chunk in iter_table_chunks(in_path, chunk_rows=chunk_rows):
            chunk = raw_chunk.reset_index(drop=True)
            good, errors = validate_applicants(chunk, path=str(in_path))
            if len(errors):
                errors = errors.assign(row=errors["row"] + offset)
                summary.bad_rows += errors["row"].nunique()
                if error_writer is not None:
                    error_writer.write(errors.astype({"value": str}))
            if len(good):
                decided = engine.decide(good, explain=explain)  # type: ignore[arg-type]
                decided.insert(0, "row", good.index.to_numpy() + 1 + offset)
                writer.write(decided[output_columns(decided)])
                summary.add(decided)
            offset += len(chunk)
            if progress is not None:
                progress(len(chunk))
    finally:
        writer.close()
        if error_writer is not None:
            error_writer.close()
    return summary
