"""The retraining workflow end to end against a real (throwaway) MLflow store.

train → registry version + ``challenger`` → promote (gate) → ``champion``; a deliberately degraded model is
refused with its failing criteria; bundles load only when every hash and golden prediction matches; serving
falls back to the verified local copy when the registry cannot be reached.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_points.bundle import load_bundle, verify_bundle
from credit_points.config import Settings
from credit_points.exceptions import ModelError
from credit_points.pipelines.evaluate import run_evaluate, run_promote
from credit_points.pipelines.generate import write_panel
from credit_points.pipelines.models import load_engine
from credit_points.pipelines.train import run_train
from credit_points.tracking.registry import alias_version, fetch_model

# a story told in order: make test runs each file on one xdist worker (--dist loadfile)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lifecycle")
    # a stable window (the generator's economy-wide shock is in 2022 and its drift starts in 2023), so that a
    # sound model calibrates in every grade; drifted cohorts failing the gate is the gate doing its job
    write_panel(home / "data" / "raw", n_firms=5000, years=(2016, 2021), seed=5)
    return home


def _settings(home: Path) -> Settings:
    return Settings(home=home, tracking_uri=f"sqlite:///{home / 'mlruns' / 'mlflow.db'}")


def test_given_data_when_trained_twice_then_bundles_are_byte_identical(home: Path) -> None:
    settings = _settings(home)
    first = run_train(home / "data" / "raw", settings=settings)
    second = run_train(home / "data" / "raw", settings=settings)
    assert first.version != second.version
    assert first.artifact_hash == second.artifact_hash
    assert alias_version(settings.registry_model_name, "challenger") == second.version


def test_given_a_challenger_when_promoted_then_champion_moves_and_a_degraded_model_is_refused(
    home: Path,
) -> None:
    settings = _settings(home)
    raw = home / "data" / "raw"
    good = run_train(raw, settings=settings)
    first = run_promote(raw, settings=settings)
    assert first.promoted, first.gate.to_frame()
    # one OOT definition: the gate measured the model card's figure on the card's rows, and says which
    card = good.model_card["out_of_time"]
    assert card["firms"] == "unseen" and card["auc"] == good.model_card["validation"]["auc"]
    floor = next(c for c in first.gate.criteria if c.name == "oot_auc_floor")
    assert floor.value == round(card["auc"], 4)
    assert f"{card['rows']:,} rows {card['window'][0]}..{card['window'][1]}, firms unseen" in floor.detail
    evaluation = run_evaluate(f"models:/{settings.registry_model_name}@champion", raw, settings=settings)
    assert evaluation.pack["metrics"]["auc"] == pytest.approx(card["auc"], abs=1e-12)
    assert int(evaluation.pack["metrics"]["n"]) == card["rows"] and card["seen_firm_rows_left_out"] > 0
    assert alias_version(settings.registry_model_name, "champion") == good.version
    # and the version carries the gate's verdict (what lets a running service reload it by number later)
    from mlflow import MlflowClient

    mv = MlflowClient().get_model_version(settings.registry_model_name, good.version)
    assert mv.tags["gate.verdict"] == "passed"
    # and what a validator finds on the version: a description, the data digest, the code's commit
    assert good.run_id in mv.description and mv.tags["data_sha256"][:16] in mv.description
    assert len(mv.tags["data_sha256"]) == 64 and mv.tags["git_sha"] and int(mv.tags["training_rows"]) > 0
    assert f"OOT AUC {card['auc']:.4f} on {card['rows']:,} rows" in mv.description
    _assert_validator_finds_the_record(settings, good, mv, card)

    # Given a model trained on shuffled outcomes (no signal)
    degraded_dir = home / "data" / "degraded"
    degraded_dir.mkdir(parents=True)
    frame = pd.read_parquet(raw / "applicants.parquet")
    frame["default_12m"] = np.random.default_rng(0).permutation(frame["default_12m"].to_numpy())
    frame.to_parquet(degraded_dir / "applicants.parquet", index=False)
    bad = run_train(degraded_dir, settings=settings)
    # When it is gated on the real outcomes
    outcome = run_promote(raw, settings=settings)
    # Then it is refused, names what failed, and the champion stays
    assert not outcome.promoted
    failed = {c.name for c in outcome.gate.failures}
    assert {"oot_auc_floor", "no_significant_auc_drop"} <= failed
    assert outcome.challenger.version == bad.version
    assert (
        MlflowClient().get_model_version(settings.registry_model_name, bad.version).tags["gate.verdict"]
        == "failed"
    )
    assert alias_version(settings.registry_model_name, "champion") == good.version


def _assert_validator_finds_the_record(settings: Settings, good, mv, card) -> None:
    """What a model validator opens in MLflow: the version's signature and input example, the gate's table
    and verdict, the run's dataset with its real shape, settings longer than a parameter in full, and
    figures that are each their own chart."""
    import hashlib

    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    info = mlflow.models.get_model_info(f"models:/{settings.registry_model_name}/{good.version}")
    inputs = {c.name: c for c in info.signature.inputs.inputs}
    assert {"firm_id", "as_of_date", "revenue", "credit_status"} <= set(inputs)
    assert inputs["revenue"].required and not inputs["orders_backlog"].required  # nullable in the record
    outputs = set(info.signature.outputs.input_names())
    assert {"prob_default", "grade", "decision", "limit", "reason_codes"} <= outputs
    assert info.signature.params.params[0].name == "explain"
    example = mlflow.models.Model.load(info.model_uri).load_input_example(
        mlflow.artifacts.download_artifacts(info.model_uri)
    )
    assert len(example) >= 1 and set(example.columns) <= set(inputs)
    # the gate's verdict, figure, rows and table, reachable from the version
    gate_run = mv.tags["gate.run_id"]
    assert (
        mv.tags["gate.oot_auc"] == f"{card['auc']:.4f}" and f"{card['rows']:,} rows" in mv.tags["gate.rows"]
    )
    table = pd.read_csv(client.download_artifacts(gate_run, "promotion_gate.csv"))
    assert "oot_auc_floor" in set(table["name"]) and table["passed"].all()
    verdict = json.loads(Path(client.download_artifacts(gate_run, "promotion_gate.json")).read_text())
    assert verdict["verdict"] == "passed" and verdict["rows"]["rows"] == card["rows"]
    # the training run: the dataset's real shape, the full settings, distinct figures
    run = client.get_run(good.run_id)
    dataset = run.inputs.dataset_inputs[0].dataset
    assert json.loads(dataset.profile)["num_rows"] == int(mv.tags["training_rows"]) > 0
    assert len(json.loads(dataset.schema)["mlflow_colspec"]) > 30
    cut = {k: v for k, v in run.data.params.items() if v.endswith("(full value: params/params.json)")}
    assert cut, "the configs are longer than one parameter"
    full = json.loads(Path(client.download_artifacts(good.run_id, "params/params.json")).read_text())
    for key, value in cut.items():
        assert len(full[key]) > len(value) and full[key].startswith(value.split("… (full value")[0])
    digests = {
        name: hashlib.sha256(
            Path(client.download_artifacts(good.run_id, f"figures/{name}")).read_bytes()
        ).digest()
        for name in ("roc.png", "calibration_by_grade.png", "shap_summary.png")
    }
    assert len(set(digests.values())) == 3


def test_given_a_tampered_bundle_when_loaded_then_refused_naming_the_file(
    trained_model, tmp_path: Path
) -> None:
    resolved = fetch_model("models:/credit-points@challenger", trained_model.home / "models")
    copy = tmp_path / "bundle"
    shutil.copytree(resolved.bundle_dir, copy)
    verify_bundle(copy, resolved.artifact_hash)
    policy = json.loads((copy / "policy.json").read_text())
    policy["version"] = "tampered"
    (copy / "policy.json").write_text(json.dumps(policy))
    with pytest.raises(ModelError, match="policy.json"):
        load_bundle(copy)


def test_given_a_booster_that_no_longer_reproduces_when_loaded_then_golden_check_refuses(
    trained_model, tmp_path: Path
) -> None:
    resolved = fetch_model("models:/credit-points@challenger", trained_model.home / "models")
    copy = tmp_path / "bundle"
    shutil.copytree(resolved.bundle_dir, copy)
    golden = json.loads((copy / "golden.json").read_text())
    golden["expected"][0]["raw_score"] += 1e-9
    (copy / "golden.json").write_text(json.dumps(golden))
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    from credit_points.config import sha256_text

    manifest["files"]["golden.json"] = sha256_text((copy / "golden.json").read_bytes())
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="golden predictions differ in 'raw_score'"):
        load_bundle(copy)


@pytest.mark.timeout(60)  # MLflow's default retries would take minutes: a hang fails here, not a slow pass
def test_given_registry_unreachable_when_loading_then_serves_verified_local_copy_fast(trained_model) -> None:
    settings = Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    engine, resolved = load_engine("models:/credit-points@challenger", settings)
    assert resolved.source in {"registry", "local-cache"}
    down = Settings(home=trained_model.home, tracking_uri="http://127.0.0.1:9", registry_timeout_s=2)
    cached_engine, cached = load_engine("models:/credit-points@challenger", down)
    assert cached.source == "local-cache"
    assert cached.version == resolved.version and cached.artifact_hash == resolved.artifact_hash
    sample = trained_model.engine.fields  # same catalogue
    assert sample.version == cached_engine.fields.version


def test_given_registry_unreachable_and_no_copy_when_loading_then_clear_error(tmp_path: Path) -> None:
    down = Settings(home=tmp_path, tracking_uri="http://127.0.0.1:9", registry_timeout_s=2)
    with pytest.raises(ModelError, match="no verified local copy"):
        load_engine("models:/credit-points@champion", down)
