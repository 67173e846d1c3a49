"""`credit-points retrain` end to end on SQLite through the real command line, in a home of its own: the
bank's historical book and its outcomes imported, a champion in the registry; a strict gate refuses the new
version naming the failed criterion, the same inputs make no new version, a passable gate makes the next
challenger; the MLflow run and the model card lead back to the audit range and the outcome files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from credit_points.config import CONFIG_DIR

from .cli import run_cli

pytestmark = pytest.mark.slow


def _gate(path: Path, **changes: object) -> Path:
    raw = yaml.safe_load((CONFIG_DIR / "promotion.yaml").read_text(encoding="utf-8"))
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _client(env: dict[str, str]):  # noqa: ANN202
    """A client of this test's own registry (another test in the process may have set MLflow's globals)."""
    from mlflow import MlflowClient

    uri = env["CREDIT_POINTS_TRACKING_URI"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _aliases(client) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model("credit-points").aliases.items()}


def test_retrain_refuses_naming_the_criterion_makes_nothing_twice_and_registers_the_next_challenger(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "CREDIT_POINTS_HOME": str(home),
           "CREDIT_POINTS_TRACKING_URI": f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"}  # fmt: skip
    env.pop("CREDIT_POINTS_AUDIT_URL", None)
    url = f"sqlite:///{home / 'data' / 'audit.db'}"
    raw = home / "data" / "raw"

    def cli(*args: str) -> tuple[int, str]:
        done = run_cli(list(args), env)
        return done.returncode, done.stdout + done.stderr

    # given a bank with a champion, and its historical book with the outcomes of the loans it booked (1,500
    # firms leave some 360 OOT rows of unseen firms with ~15 defaults: the first gate asks for 10)
    first_gate = _gate(tmp_path / "first.yaml", min_oot_defaults=10)
    for args in (
        ("generate", "--firms", "1500", "--years", "2019-2024", "--seed", "11", "--out", str(raw)),
        ("train", "--data", str(raw)),
        ("promote", "--data", str(raw), "--config", str(first_gate)),
        ("outcomes", "import", "--history", str(raw / "historical_decisions.parquet"), "--audit-url", url),
    ):
        code, text = cli(*args)
        assert code == 0, text

    def versions() -> list[str]:

        return sorted(str(v.version) for v in _client(env).search_model_versions("name='credit-points'"))

    assert versions() == ["1"]
    strict = _gate(tmp_path / "strict.yaml", min_oot_auc=0.99)
    # when retrain runs with outcomes to import and a gate no model passes
    code, text = cli("retrain", "--outcomes", str(raw / "performance.parquet"), "--audit-url", url,
                     "--gate", str(strict), "--today", "2026-06-30")  # fmt: skip
    # then it refuses with exit 1, naming the failed criterion; the version is kept, not made challenger
    assert code == 1, text
    assert "refused: failed gate criteria:" in text and "oot_auc_floor" in text.split("refused:")[-1]
    assert versions() == ["1", "2"]

    client = _client(env)
    assert _aliases(client) == {"champion": "1", "challenger": "1"}
    assert client.get_model_version("credit-points", "2").tags["retrain.gate"] == "failed"

    # when it runs again on the same inputs (the outcome file again: already imported)
    code, again = cli("retrain", "--outcomes", str(raw / "performance.parquet"), "--audit-url", url,
                      "--gate", str(strict), "--today", "2026-06-30")  # fmt: skip
    # then no new version is made and the earlier verdict is said
    assert code == 1 and "no new version: version 2" in again and "already imported" in again, again
    assert versions() == ["1", "2"]

    # when the gate is one a good model passes
    passable = _gate(tmp_path / "passable.yaml", min_oot_auc=0.55, auc_drop_alpha=1e-12, max_score_psi=1.0,
                     forbid_red_grades=False, min_oot_defaults=5)  # fmt: skip
    code, text = cli("retrain", "--audit-url", url, "--gate", str(passable))
    # then the new version is the challenger, and the champion stays
    assert code == 0, text
    assert versions() == ["1", "2", "3"]
    assert _aliases(client) == {"champion": "1", "challenger": "3"}
    # and its MLflow run and model card lead back to the audit range and the outcome files that trained it
    version = client.get_model_version("credit-points", "3")
    run = client.get_run(version.run_id)
    assert run.data.tags["data.kind"] == "outcomes dataset"
    performance_sha = __import__("hashlib").sha256((raw / "performance.parquet").read_bytes()).hexdigest()
    assert performance_sha[:12] in run.data.tags["data.outcome_files"]
    card = json.loads(
        Path(client.download_artifacts(version.run_id, "model_card.json", str(tmp_path))).read_text()
    )
    files = {f["file_sha256"] for f in card["training_data"]["outcome_files"]}
    assert performance_sha in files
    assert card["training_data"]["rows"] > 0 and card["training_data"]["decision_dates"]
