"""A bad option value is a usage error naming the option and the value (exit 2), never a traceback."""

from __future__ import annotations

import pytest

from credit_points.cli import main


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["outcomes", "dataset", "--out", "x.parquet", "--since", "2024-13-01"], "--since"),
        (["monitor", "--model", "models:/credit-points/1", "--out", "d", "--until", "yesterday"], "--until"),
    ],
)
def test_a_bad_date_option_is_a_usage_error(args, option, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CREDIT_POINTS_AUDIT_URL", f"sqlite:///{tmp_path / 'audit.db'}")
    monkeypatch.setenv("CREDIT_POINTS_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"Invalid value for {option}" in err and "not a date" in err and "Traceback" not in err
