"""`policy apply` through the real command line, in a copy of the session's registry: a new version with the
new policy, through the gate, recording both hashes and who applied it; the next decisions carry the new
hash, the earlier ones still replay exactly under the old policy, and applying again adds nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from credit_points.audit.store import AuditStore

from .cli import run_cli

pytestmark = pytest.mark.slow

CAP = 5_000_000


def test_apply_registers_the_model_with_the_new_policy_and_old_decisions_still_replay(
    trained_model, tmp_path
):
    # given a copy of the session's home (its aliases stay untouched) and decisions audited under the old policy
    home = tmp_path / "home"
    shutil.copytree(trained_model.home / "mlruns", home / "mlruns")
    uri = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    env = {**trained_model.env(), "CREDIT_POINTS_HOME": str(home), "CREDIT_POINTS_TRACKING_URI": uri,
           "CREDIT_POINTS_AUDIT_URL": audit}  # fmt: skip
    old = f"models:/credit-points/{trained_model.version}"
    rows = trained_model.applicants.drop(columns=["default_12m"])
    rows[rows["as_of_date"].dt.year == 2024].head(150).to_parquet(tmp_path / "in.parquet")

    def score(model: str, out: str) -> pd.DataFrame:
        done = run_cli(["score", "--model", model, "--in", str(tmp_path / "in.parquet"), "--out",
                        str(tmp_path / out), "--audit"], env)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return pd.read_parquet(tmp_path / out)

    before = score(old, "before.parquet")
    assert (before["limit"] > CAP).any()
    overlay = tmp_path / "cap.yaml"
    overlay.write_text(
        "version: 1.1.0\nproduct_overrides:\n"
        + "".join(
            f"  {p}: {{cap: {CAP}}}\n"
            for p in ("keji_dai", "shanxin_dai", "jifen_dai", "renewal_without_principal")
        ),
        encoding="utf-8",
    )
    # when the committee's change is applied
    done = run_cli(["policy", "apply", str(overlay), "--model", old, "--data", str(trained_model.data_dir),
                    "--by", "risk-committee"], env, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("credit-points", "champion")
    assert str(champion.version) != str(trained_model.version)
    old_hash = before["policy_hash"].iloc[0]
    # then the new version records both hashes, who applied it, and the version it came from
    tags = champion.tags
    assert tags["policy.old_hash"] == old_hash and tags["policy.applied_by"] == "risk-committee"
    assert tags["policy.from_version"] == str(trained_model.version) and tags["policy.gate"] == "passed"
    # and the next decisions carry the new hash and the lower cap, the same PDs
    after = score("models:/credit-points@champion", "after.parquet")
    assert set(after["policy_hash"]) == {tags["policy.new_hash"]} != {old_hash}
    assert set(after["policy_version"]) == {"1.1.0"}
    assert (after["limit"] <= CAP).all()
    assert (after["prob_default"] == before["prob_default"]).all()
    card = json.loads(
        Path(
            client.download_artifacts(champion.run_id, "policy/policy_change.json", str(tmp_path))
        ).read_text(encoding="utf-8")
    )
    assert card["new_policy"]["hash"] == tags["policy.new_hash"] and card["applied_by"] == "risk-committee"
    # and a decision of the old version still replays exactly, under the old policy
    store = AuditStore(audit)
    try:
        first_old = next(
            r
            for r in store.iter_rows()
            if r.kind == "decision" and r.model_version == str(trained_model.version)
        )
    finally:
        store.dispose()
    assert first_old.record["policy"]["hash"] == old_hash
    replay = run_cli(["audit", "replay", first_old.decision_id], env)
    assert replay.returncode == 0 and "replays identically" in replay.stdout, replay.stdout + replay.stderr
    # and applying the same change again makes no new version
    again = run_cli(
        ["policy", "apply", str(overlay), "--model", old, "--data", str(trained_model.data_dir)], env
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"no new version: version {champion.version}" in " ".join(again.stdout.split())
