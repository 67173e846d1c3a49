"""The points command group end to end on a generated file."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from credit_points.cli import app
from credit_points.datasets.io import read_table, write_table
from credit_points.points.config import load_points_config
from credit_points.points.reference import ReferenceTable
from credit_points.points.scorer import score_points


@pytest.fixture(scope="module")
def firms_file(panel, tmp_path_factory):
    path = tmp_path_factory.mktemp("points-cli") / "firms.parquet"
    write_table(panel.head(400), path)
    return path


def test_build_reference_then_score_with_it(firms_file, panel, tmp_path):
    runner = CliRunner()
    ref_path, out_path = tmp_path / "ref.json", tmp_path / "scored.parquet"
    result = runner.invoke(
        app, ["points", "build-reference", "--in", str(firms_file), "--out", str(ref_path)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(ref_path.read_text(encoding="utf-8"))["profile"] == "torch-18"
    # the short form: `points --in … --out …`
    result = runner.invoke(
        app, ["points", "--in", str(firms_file), "--reference", str(ref_path), "--out", str(out_path)]
    )
    assert result.exit_code == 0, result.output
    scored = read_table(out_path)
    expected = score_points(panel.head(400), load_points_config("torch-18"), ReferenceTable.load(ref_path))
    assert scored["firm_id"].tolist() == panel.head(400)["firm_id"].tolist()
    pd.testing.assert_series_equal(scored["points_total"], expected["points_total"].reset_index(drop=True),
                                   check_names=False, check_index=False)  # fmt: skip


def test_score_subcommand_with_another_profile(firms_file, tmp_path):
    out_path = tmp_path / "scored.csv"
    result = CliRunner().invoke(
        app, ["points", "score", "--in", str(firms_file), "--config", "changsha-38", "--out", str(out_path)]
    )
    assert result.exit_code == 0, result.output
    assert "points_cat_talent" in read_table(out_path).columns


@pytest.mark.parametrize(
    ("lang", "words"), [("zh", ["总积分", "短板"]), ("en", ["Total points", "Weak spots"])]
)
def test_explain_prints_a_bilingual_breakdown(firms_file, panel, lang, words):
    firm = panel.head(400)["firm_id"].iloc[10]
    result = CliRunner().invoke(
        app, ["points", "explain", "--in", str(firms_file), "--firm-id", firm, "--lang", lang]
    )
    assert result.exit_code == 0, result.output
    for word in words:
        assert word in result.output


def test_explain_names_an_unknown_firm(firms_file):
    result = CliRunner().invoke(app, ["points", "explain", "--in", str(firms_file), "--firm-id", "NOPE"])
    assert result.exit_code != 0
    assert "firm_id" in str(result.exception)


def test_explain_gives_the_engines_points_and_ranks_for_the_firm(trained_model, tmp_path):
    # given the trained zone's applicants and the model registered for it
    import os
    import subprocess
    import sys

    frame = trained_model.applicants
    latest = frame[frame["as_of_date"].dt.year == 2024].drop(columns=["default_12m"])
    src = tmp_path / "latest.parquet"
    write_table(latest, src)
    firm = latest["firm_id"].iloc[5]
    # when points explain runs with the default settings pointing at that model
    env = {**trained_model.env(), "CREDIT_POINTS_MODEL_URI": f"models:/credit-points/{trained_model.version}"}
    result = subprocess.run(
        [sys.executable, "-m", "credit_points.cli", "points", "explain", "--in", str(src), "--firm-id", firm,
         "--lang", "en"],
        capture_output=True, text=True, env=env, timeout=300, check=False, cwd=os.getcwd(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # then it says which reference it used, and its total and ranks are the engine's for that row
    assert f"pinned in model credit-points version {trained_model.version}" in result.stdout
    engine_points = trained_model.engine.score_points(latest[latest["firm_id"] == firm])
    row = engine_points.iloc[-1]
    assert f"{row['points_total']:.1f}" in result.stdout
    assert f"{int(row['rank_zone']):,} / {int(row['rank_stage']):,}" in result.stdout


def test_explain_without_a_model_says_the_reference_is_built_from_the_file(firms_file, tmp_path, monkeypatch):
    # given no model anywhere (an empty home)
    monkeypatch.setenv("CREDIT_POINTS_HOME", str(tmp_path))
    monkeypatch.setenv("CREDIT_POINTS_TRACKING_URI", f"sqlite:///{tmp_path / 'none.db'}")
    firm = read_table(firms_file)["firm_id"].iloc[0]
    result = CliRunner().invoke(
        app, ["points", "explain", "--in", str(firms_file), "--firm-id", firm, "--lang", "en"]
    )
    # then it still explains, and says plainly the points are not the engine's
    assert result.exit_code == 0, result.output
    assert "built from this file" in result.output and "not the engine's" in result.output
