"""The ``generate`` and ``validate`` commands end to end, through the console entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from credit_points.cli import main
from credit_points.datasets.io import read_table


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    main(["generate", "--firms", "150", "--years", "2021-2023", "--seed", "5", "--out", str(out)])
    return out


def test_generate_writes_panel_and_manifest(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((generated / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["years"] == [2021, 2023] and manifest["seed"] == 5
    # the same command again gives the same bytes
    code, out, _ = run(
        ["generate", "--firms", "150", "--years", "2021-2023", "--seed", "5", "--out", str(tmp_path)], capsys
    )
    assert code == 0 and "firm-years" in out
    assert (tmp_path / "applicants.parquet").read_bytes() == (generated / "applicants.parquet").read_bytes()


def test_validate_clean_file_exits_zero(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["validate", "--in", str(generated / "applicants.parquet")], capsys)
    rows = len(read_table(generated / "applicants.parquet"))
    assert code == 0
    assert f"{rows:,} rows, {rows:,} good, 0 bad, 0 problems" in out


def test_validate_bad_csv_reports_each_problem(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a CSV with a text revenue, an unknown tax grade and a bad check digit in three rows
    frame = read_table(generated / "applicants.parquet").head(30).astype(object)
    frame.loc[2, "revenue"] = "ten million"
    frame.loc[4, "tax_credit_grade"] = "X"
    frame.loc[9, "firm_id"] = "91350100M000100Y44"
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    errors = tmp_path / "errors.csv"
    # When
    code, out, err = run(["validate", "--in", str(source), "--errors", str(errors)], capsys)
    # Then exit 1, a summary, one line per problem naming file, row and field, and the error file
    assert code == 1
    assert "30 rows, 27 good, 3 bad, 3 problems" in out
    assert "revenue: 1" in out and "tax_credit_grade: 1" in out and "firm_id: 1" in out
    assert f"{source}: row 3: revenue: not a number" in err
    assert "91350100M000100Y44" not in err  # identities stay off the console
    written = pd.read_csv(errors, dtype=str)
    assert list(written.columns) == ["row", "firm_id", "field", "value", "reason"]
    assert written[["row", "field", "value"]].values.tolist() == [
        ["3", "revenue", "ten million"],
        ["5", "tax_credit_grade", "X"],
        ["10", "firm_id", "91350100M000100Y44"],
    ]


def test_missing_column_is_one_line_without_traceback(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "no_zone.csv"
    read_table(generated / "applicants.parquet").drop(columns="zone").to_csv(source, index=False)
    code, _, err = run(["validate", "--in", str(source)], capsys)
    assert code == 2
    assert err.strip() == f"error: {source}: zone: missing column zone"
    code, _, err = run(["--debug", "validate", "--in", str(source)], capsys)
    assert code == 2 and "Traceback" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "--in", "nowhere/missing.parquet"], "nowhere/missing.parquet: file not found"),
        (["validate", "--in", "applicants.txt"], "unknown file type '.txt'"),
        (["generate", "--years", "2024-2019", "--out", "unused"], "--years"),
    ],
)
def test_user_errors_exit_two_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
