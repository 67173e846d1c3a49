"""Reading and writing applicant tables (CSV, Parquet): whole files, chunks, row counts.

The format follows the suffix (``.csv`` or ``.parquet``). CSV text columns of the field catalogue
(``firm_id``, enums, dates ...) are read as strings, so a code such as ``"000123"`` keeps its zeros; only
empty cells are read as missing (``N/A`` or ``null`` stay text, so an error report can show them); types
are then checked and coerced by :func:`credit_points.datasets.schema.validate_applicants`. Every problem
with the file itself raises :class:`~credit_points.exceptions.DataValidationError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from credit_points.datasets.fields import FieldsConfig, load_fields
from credit_points.exceptions import DataValidationError

SUFFIXES = (".csv", ".parquet")
_TEXT_DTYPES = {"string", "category", "date"}


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataValidationError(
            f"unknown file type {suffix or '(none)'!r}; expected one of {SUFFIXES}", path=str(path)
        )
    return suffix


def _existing(path: str | Path) -> tuple[Path, str]:
    path = Path(path)
    kind = _format(path)
    if not path.is_file():
        raise DataValidationError("file not found", path=str(path))
    return path, kind


def _csv_text_dtypes(fields: FieldsConfig | None) -> dict[str, str]:
    fields = fields or load_fields()
    return {f.name: "str" for f in fields.fields if f.dtype in _TEXT_DTYPES}


def _check_columns(path: Path, present: Sequence[str], columns: Sequence[str] | None) -> None:
    if columns is None:
        return
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataValidationError("missing column", field=", ".join(missing), path=str(path))


def read_table(
    path: str | Path, columns: Sequence[str] | None = None, *, fields: FieldsConfig | None = None
) -> pd.DataFrame:
    """Read a whole CSV or Parquet file.

    Args:
        path: the file; its suffix chooses the format.
        columns: read only these columns (all by default); a missing one raises.
        fields: the catalogue whose text columns stay strings in CSV (default ``configs/fields.yaml``).

    Raises:
        DataValidationError: missing or unreadable file, unknown suffix, missing column.
    """
    path, kind = _existing(path)
    try:
        if kind == ".parquet":
            import pyarrow.parquet as pq

            present = pq.read_schema(path).names
            _check_columns(path, present, columns)
            return pd.read_parquet(path, columns=list(columns) if columns is not None else None)
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns.tolist()
        _check_columns(path, header, columns)
        return pd.read_csv(
            path,
            usecols=list(columns) if columns is not None else None,
            dtype=_csv_text_dtypes(fields),
            encoding="utf-8-sig",
            low_memory=False,
            keep_default_na=False,
            na_values=[""],
        )
    except DataValidationError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataValidationError(f"cannot read file ({type(exc).__name__}: {exc})", path=str(path)) from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid (a ValueError) and ArrowException
        raise DataValidationError(f"cannot read file ({type(exc).__name__}: {exc})", path=str(path)) from None


def _whole_numbers_as_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Catalogue integer fields (float64 in memory) written as ``12``, not ``12.0``, when all are whole."""
    names = {f.name for f in load_fields().fields if f.dtype == "int"}
    out = frame
    for name in names & set(frame.columns):
        column = frame[name]
        if column.dtype == "float64":
            finite = column.dropna()
            if np.isfinite(finite).all() and (np.floor(finite) == finite).all():
                out = out.assign(**{name: column.astype("Int64")})
    return out


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV (UTF-8, no index, ISO dates) or Parquet (pyarrow, no index), by suffix.

    Parquet output is deterministic: the same frame gives the same bytes. In CSV, the catalogue's integer
    fields are written without a decimal point when every value is whole.
    """
    path = Path(path)
    kind = _format(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == ".parquet":
            frame.to_parquet(path, index=False, engine="pyarrow", compression="zstd")
        else:
            _whole_numbers_as_integers(frame).to_csv(
                path, index=False, encoding="utf-8", date_format="%Y-%m-%d"
            )
    except OSError as exc:
        raise DataValidationError(f"cannot write file ({exc.strerror})", path=str(path)) from None
    return path


def iter_table_chunks(
    path: str | Path,
    chunk_rows: int = 100_000,
    *,
    columns: Sequence[str] | None = None,
    fields: FieldsConfig | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream a file in chunks of at most ``chunk_rows`` rows (Parquet record batches, CSV chunks).

    Each chunk keeps its position in the file as its index (0-based), so row numbers stay true.
    """
    if chunk_rows < 1:
        raise DataValidationError("must be at least 1", field="chunk_rows", value=chunk_rows)
    path, kind = _existing(path)
    start = 0
    try:
        if kind == ".parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            _check_columns(path, parquet.schema_arrow.names, columns)
            for batch in parquet.iter_batches(
                batch_size=chunk_rows, columns=list(columns) if columns else None
            ):
                chunk = batch.to_pandas()
                chunk.index = pd.RangeIndex(start, start + len(chunk))
                start += len(chunk)
                yield chunk
            return
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns.tolist()
        _check_columns(path, header, columns)
        reader = pd.read_csv(
            path,
            usecols=list(columns) if columns is not None else None,
            dtype=_csv_text_dtypes(fields),
            encoding="utf-8-sig",
            chunksize=chunk_rows,
            keep_default_na=False,
            na_values=[""],
        )
        with reader:
            yield from reader
    except DataValidationError:
        raise
    except Exception as exc:
        raise DataValidationError(f"cannot read file ({type(exc).__name__}: {exc})", path=str(path)) from None


def read_columns(path: str | Path) -> list[str]:
    """The column names of a CSV or Parquet file (its header or schema), without reading its rows.

    A folder of Parquet parts (what Dask reads) gives the columns of its first part.
    """
    if Path(path).is_dir():
        parts = sorted(Path(path).glob("*.parquet"))
        if not parts:
            raise DataValidationError("the folder holds no Parquet part", path=str(path))
        path = parts[0]
    path, kind = _existing(path)
    if kind == ".parquet":
        import pyarrow.parquet as pq

        return [str(name) for name in pq.ParquetFile(path).schema_arrow.names]
    return [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]


def count_rows(path: str | Path) -> int:
    """Number of data rows (Parquet from its metadata; CSV by streaming, header excluded)."""
    path, kind = _existing(path)
    try:
        if kind == ".parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        first = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns[0]
        return sum(
            len(chunk)
            for chunk in pd.read_csv(path, usecols=[first], chunksize=500_000, encoding="utf-8-sig")
        )
    except Exception as exc:
        raise DataValidationError(f"cannot read file ({type(exc).__name__}: {exc})", path=str(path)) from None
