"""A bad option value is a usage error naming the option and the value (exit 2), never a traceback."""

from __future__ import annotations

import pytest

from credit_points.cli import main


def _usage_error(args, tmp_path, monkeypatch, capsys) -> str:  # noqa: ANN001
    """Run the CLI in an empty home; it must exit 2. Returns what it printed on stderr."""
    monkeypatch.setenv("CREDIT_POINTS_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["outcomes", "dataset", "--out", "x.parquet", "--since", "2024-13-01"], "--since"),
        (["monitor", "--model", "models:/credit-points/1", "--out", "d", "--until", "yesterday"], "--until"),
    ],
)
def test_a_bad_date_option_is_a_usage_error(args, option, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CREDIT_POINTS_AUDIT_URL", f"sqlite:///{tmp_path / 'audit.db'}")
    err = _usage_error(args, tmp_path, monkeypatch, capsys)
    assert f"Invalid value for {option}" in err and "not a date" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "says", "help_of"),
    [
        (["score", "--bogus"], "No such option: --bogus", "credit-points score"),
        (["score", "--out", "x.parquet"], "Missing option '--in'", "credit-points score"),
        (["nosuchcmd"], "No such command 'nosuchcmd'", "credit-points"),
        (["audit", "create"], "No such command 'create'", "credit-points audit"),
        (["policy", "simulate"], "Missing argument 'FILE'", "credit-points policy simulate"),
        (["audit", "replay"], "Missing argument 'DECISION_ID'", "credit-points audit replay"),
        (["score", "--in", "a.csv", "--out", "b", "--chunk-rows", "abc"], "Invalid value for '--chunk-rows'",
         "credit-points score"),
        (["score", "--in"], "Option '--in' requires an argument", "credit-points"),
    ],
)  # fmt: skip
def test_every_usage_mistake_is_one_line_naming_what_was_typed(
    args, says, help_of, tmp_path, monkeypatch, capsys
) -> None:
    err = _usage_error(args, tmp_path, monkeypatch, capsys)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert says in err and f"(see '{help_of} --help')" in err
    assert "Traceback" not in err and "in_path" not in err and "policy_file" not in err


def test_audit_help_advertises_only_commands_that_exist(capsys) -> None:
    try:
        main(["audit", "--help"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    text = capsys.readouterr().out
    commands = {
        line.split()[1] for line in text.splitlines() if line.startswith("│ ") and len(line.split()) > 1
    }
    assert "create" not in commands and {"init", "verify", "replay"} <= commands, commands
    assert "audit create" not in text
