"""`train --reject-inference` through the real command line, on a lender's own files only.

The generated bank keeps its historical decisions and their loans' performance; the simulation's view and
the truth are deleted before anything is imported, so no step can read them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from .cli import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lender(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    from credit_points.pipelines.generate import write_panel

    home = tmp_path_factory.mktemp("reject-inference")
    raw = home / "raw"
    write_panel(raw, n_firms=4000, years=(2019, 2024), seed=5)
    bank = home / "bank"
    bank.mkdir()
    for name in ("historical_decisions.parquet", "performance.parquet"):
        shutil.copy(raw / name, bank / name)
    shutil.rmtree(raw)  # the truth and the simulation's view are gone
    env = {
        **os.environ,
        "CREDIT_POINTS_HOME": str(home),
        "CREDIT_POINTS_TRACKING_URI": f"sqlite:///{home / 'mlruns' / 'mlflow.db'}",
    }
    url = f"sqlite:///{home / 'audit.db'}"
    table = home / "training.parquet"
    for args in (
        ["outcomes", "import", "--history", str(bank / "historical_decisions.parquet"), "--audit-url", url],
        ["outcomes", "import", "--file", str(bank / "performance.parquet"), "--audit-url", url,
         "--today", "2030-01-01"],
        ["outcomes", "dataset", "--out", str(table), "--audit-url", url],
    ):  # fmt: skip
        result = run_cli(args, env)
        assert result.returncode == 0, f"{args[:2]}: {result.stdout}{result.stderr}"
    return table, env


@pytest.mark.parametrize("method", ["none", "reweight", "augment", "parcel"])
def test_each_method_trains_registers_and_records_itself(lender, method, tmp_path) -> None:
    import mlflow

    table, env = lender
    dataset = pd.read_parquet(table)
    assert not {"true_pd", "true_raw", "default_date"} & set(dataset.columns)
    unbooked = int((dataset["outcome"] == "no_outcome").sum())
    assert unbooked > 0

    # (the self-check against none runs once, with augment; it costs three more fits)
    check = [] if method == "augment" else ["--no-reject-check"]
    result = run_cli(
        ["train", "--data", str(table), "--reject-inference", method, "--alias", f"ri-{method}", *check], env
    )

    assert result.returncode == 0, result.stdout + result.stderr
    uri = env[
        "CREDIT_POINTS_TRACKING_URI"
    ]  # explicit: other tests in this process may point mlflow elsewhere
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("credit-points", f"ri-{method}")
    run = client.get_run(version.run_id)
    assert run.data.params["reject_inference.method"] == method
    card = json.loads(
        Path(client.download_artifacts(run.info.run_id, "model_card.json", str(tmp_path))).read_text()
    )
    assert card["reject_inference"]["method"] == method
    # the applicants without an outcome of the training years are learned from, except by none
    assert (run.data.metrics["reject_inference_train_unbooked_rows"] > 0) == (method != "none")
    assert run.data.metrics["reject_inference_train_booked_rows"] > 0
    if method == "none":
        assert "reject inference:" not in result.stdout
    else:
        assert (
            f"reject inference: {method}, over {unbooked:,} applicant(s) without an outcome" in result.stdout
        )
    if method == "reweight":
        assert run.data.metrics["reject_inference_train_max_weight"] > 1.0
    if method in ("augment", "parcel"):
        assert 0 < run.data.metrics["reject_inference_train_inferred_default_rate"] < 1
    if method == "augment":  # this small book has too few defaults for the check to compare: said, not hidden
        assert "reject inference not checked" in result.stdout and "too few defaults" in result.stdout
        assert card["reject_inference"]["self_check"]["checked"] is False
    else:
        assert "self_check" not in card["reject_inference"]


def test_the_self_check_command_refuses_a_book_too_small_to_compare(lender) -> None:
    table, env = lender
    result = run_cli(["reject-inference", "check", "--data", str(table)], env)
    assert result.returncode == 2
    assert "too few defaults to tell methods apart" in result.stderr
    assert "among the test year's booked loans" in result.stderr
    result = run_cli(["reject-inference", "check", "--data", str(table), "--methods", "augment,magic"], env)
    assert result.returncode == 2 and "'magic'" in result.stderr


def test_a_method_that_does_not_exist_or_has_nothing_to_infer_is_a_clear_error(lender, tmp_path) -> None:
    table, env = lender
    result = run_cli(["train", "--data", str(table), "--reject-inference", "magic"], env)
    assert result.returncode == 2 and "reject_inference" in result.stderr and "magic" in result.stderr
    assert "reweight" in result.stderr  # the choices are named
    # the booked loans alone (a plain applicants file) leave nothing to infer
    booked = pd.read_parquet(table).query("outcome == 'matured'").drop(columns=["outcome", "decision_id"])
    booked.to_parquet(tmp_path / "applicants.parquet")
    result = run_cli(["train", "--data", str(tmp_path), "--reject-inference", "augment"], env)
    assert result.returncode == 2 and "needs applicants without an outcome" in result.stderr
