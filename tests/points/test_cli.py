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
