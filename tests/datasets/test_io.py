"""CSV and Parquet readers and writers: round trips, strings kept as strings, chunks, counts, bad files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from credit_points.datasets.io import count_rows, iter_table_chunks, read_table, write_table
from credit_points.exceptions import DataValidationError


@pytest.fixture
def rows(panel: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return panel[0].head(250).reset_index(drop=True)


def test_parquet_round_trip_is_exact(tmp_path: Path, rows: pd.DataFrame) -> None:
    path = write_table(rows, tmp_path / "a.parquet")
    pd.testing.assert_frame_equal(read_table(path), rows)


def test_csv_keeps_codes_as_strings(tmp_path: Path, rows: pd.DataFrame) -> None:
    # Given an all-digit credit code (which a plain CSV reader would turn into a number)
    frame = rows.copy()
    frame.loc[0, "firm_id"] = "914403001922038216"
    frame.loc[1, "industry_code"] = "C39"
    path = write_table(frame, tmp_path / "a.csv")
    # When
    back = read_table(path)
    # Then
    assert back.loc[0, "firm_id"] == "914403001922038216"
    assert str(back["firm_id"].dtype) == "str"
    assert back["revenue"].tolist() == frame["revenue"].tolist()
    # integer fields are written as integers (max_overdue_days_24m has gaps, which stay empty)
    text = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert not text["employees"].str.contains(".", regex=False).any()
    assert (text["max_overdue_days_24m"] == "").any() and not text["max_overdue_days_24m"].str.contains(
        ".", regex=False
    ).any()
    assert back["employees"].astype("float64").tolist() == frame["employees"].tolist()


def test_read_selected_columns_and_missing_column(tmp_path: Path, rows: pd.DataFrame) -> None:
    for suffix in (".csv", ".parquet"):
        path = write_table(rows, tmp_path / f"a{suffix}")
        assert list(read_table(path, columns=["firm_id", "revenue"]).columns) == ["firm_id", "revenue"]
        with pytest.raises(DataValidationError, match=r"a\.(csv|parquet): nope: missing column"):
            read_table(path, columns=["firm_id", "nope"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunks_cover_the_file_in_order(tmp_path: Path, rows: pd.DataFrame, suffix: str) -> None:
    # Given a 250-row file
    path = write_table(rows, tmp_path / f"a{suffix}")
    # When read in chunks of 100
    chunks = list(iter_table_chunks(path, chunk_rows=100))
    # Then 100 + 100 + 50 rows, indexed by position in the file, equal to the whole read
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert chunks[2].index[0] == 200
    pd.testing.assert_frame_equal(pd.concat(chunks), read_table(path))
    assert count_rows(path) == 250


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "file not found"),
        ("data.json", "{}", "unknown file type '.json'"),
        ("broken.parquet", b"not parquet at all", "cannot read file"),
        ("bad.csv", b"\xff\xfe\x00garbage\x00\n\x00", "cannot read file"),
    ],
)
def test_unreadable_files_name_the_file(
    tmp_path: Path, name: str, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    for call in (read_table, count_rows, lambda p: list(iter_table_chunks(p))):
        with pytest.raises(DataValidationError, match=message) as info:
            call(path)
        assert info.value.path == str(path)


def test_write_rejects_unknown_suffix(tmp_path: Path, rows: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="unknown file type"):
        write_table(rows, tmp_path / "a.xlsx")
