"""`score --audit --shadow` and `monitor`'s comparison of champion and shadow, through the real command line:
the output and the chain are the champion's alone, the shadow's decisions are stored once per decision, and
the agreement, swap-ins and swap-outs equal those of the two models' own score outputs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from credit_points.audit.shadow import ShadowStore
from credit_points.audit.store import AuditStore

from .cli import run_cli

pytestmark = pytest.mark.slow


def _score_alone(trained_model, uri: str, source, out) -> pd.DataFrame:  # noqa: ANN001
    """The same file scored by one model alone (in process, the same file writer as the command)."""
    from credit_points.config import Settings
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.score import score_file

    engine, _ = load_engine(uri, Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri))
    score_file(engine, source, out)
    return pd.read_parquet(out)


def test_score_with_a_shadow_and_monitor_the_comparison(trained_model, shadow_version, tmp_path):
    env = trained_model.env()
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    champion = f"models:/credit-points/{trained_model.version}"
    rows = trained_model.applicants.drop(columns=["default_12m"])
    rows[rows["as_of_date"].dt.year == 2024].head(400).to_parquet(tmp_path / "in.parquet")

    def score(out: str, *extra: str) -> pd.DataFrame:
        done = run_cli(
            ["score", "--in", str(tmp_path / "in.parquet"), "--out", str(tmp_path / out), *extra], env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return pd.read_parquet(tmp_path / out)

    # given the same applicants scored with the shadow alongside, and by each model alone
    with_shadow = score("audited.parquet", "--model", champion, "--audit", "--audit-url", url,
                        "--shadow", "models:/credit-points@shadow")  # fmt: skip
    alone, shadow_alone = (
        _score_alone(trained_model, uri, tmp_path / "in.parquet", tmp_path / out)
        for uri, out in (
            (champion, "champion.parquet"),
            (f"models:/credit-points/{shadow_version}", "shadow.parquet"),
        )
    )
    # then the output is the champion's alone
    assert with_shadow.drop(columns=["decision_id"]).equals(alone)
    # and the shadow's decisions are stored once per decision, with its version and PDs
    store = AuditStore(url)
    try:
        shadows = ShadowStore(store).frame()
        assert sorted(shadows["decision_id"]) == sorted(with_shadow["decision_id"])
        assert set(shadows["model_version"]) == {shadow_version}
        merged = with_shadow[["decision_id", "row"]].merge(shadows, on="decision_id")
        merged = merged.merge(
            shadow_alone[["row", "decision", "prob_default"]], on="row", suffixes=("", "_alone")
        )
        assert (merged["decision"] == merged["decision_alone"]).all()
        assert (merged["prob_default"] == merged["prob_default_alone"]).all()
        # scoring the same file again adds no shadow row
        score("again.parquet", "--model", champion, "--audit", "--audit-url", url,
              "--shadow", "models:/credit-points@shadow")  # fmt: skip
        assert len(ShadowStore(store).frame()) == len(shadows)
    finally:
        store.dispose()

    # when monitored
    out = tmp_path / "monitor"
    done = run_cli(
        ["monitor", "--model", champion, "--out", str(out), "--audit-url", url, "--no-mlflow"], env
    )
    assert done.returncode in (0, 1, 2), done.stderr
    figures = json.loads((out / "monitor.json").read_text(encoding="utf-8"))
    (comparison,) = figures["shadow"]
    # then the comparison equals the two models' own outputs
    ours, theirs = alone["decision"], shadow_alone["decision"]
    assert comparison["model_version"] == shadow_version and comparison["compared"] == len(alone)
    assert comparison["agreement"] == pytest.approx((ours == theirs).mean())
    assert comparison["swap_in"] == int(((theirs == "approve") & (ours != "approve")).sum())
    assert comparison["swap_out"] == int(((ours == "approve") & (theirs != "approve")).sum())
    assert comparison["limit_shadow"] == pytest.approx(shadow_alone.loc[theirs == "approve", "limit"].sum())
    assert sum(c["n"] for c in comparison["table"]) == len(alone)
    assert f"shadow version {shadow_version}" in done.stdout
    html = (out / "monitoring_report_en.html").read_text(encoding="utf-8")
    assert f'data-shadow="{shadow_version}"' in html and "Swap-ins" in html

    # and promote --on-live shows the same comparison beside the gate (under aliases of this test's own)
    import mlflow

    uri = trained_model.tracking_uri
    mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
        "credit-points", "live-champion", str(trained_model.version)
    )
    done = run_cli(["promote", "--data", str(trained_model.data_dir), "--challenger", "shadow",
                    "--champion", "live-champion", "--on-live", "--audit-url", url], env)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    said = " ".join(done.stdout.split())  # the console wraps long lines
    assert (
        f"live traffic: version {shadow_version} in shadow on {len(alone):,} of the champion's decisions: "
        f"agreement {comparison['agreement']:.1%}, swap-in {comparison['swap_in']:,}" in said
    ), done.stdout


def test_audit_shadow_decides_audited_decisions_after_the_fact(trained_model, shadow_version, tmp_path):
    from credit_points.config import Settings
    from credit_points.pipelines.models import load_engine
    from credit_points.pipelines.shadow import fill_shadow

    env = trained_model.env()
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    champion = f"models:/credit-points/{trained_model.version}"
    challenger = f"models:/credit-points/{shadow_version}"
    rows = trained_model.applicants.drop(columns=["default_12m"])
    rows[rows["as_of_date"].dt.year == 2024].head(240).to_parquet(tmp_path / "in.parquet")
    # given decisions audited by the champion with no shadow running
    done = run_cli(["score", "--model", champion, "--in", str(tmp_path / "in.parquet"), "--out",
                    str(tmp_path / "audited.parquet"), "--audit", "--audit-url", url], env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    audited = pd.read_parquet(tmp_path / "audited.parquet")
    cut = audited["as_of_date"].sort_values().iloc[len(audited) // 2]
    early = audited[audited["as_of_date"] <= cut]
    assert 0 < len(early) < len(audited)
    alone = _score_alone(trained_model, challenger, tmp_path / "in.parquet", tmp_path / "alone.parquet")

    def shadows() -> pd.DataFrame:
        store = AuditStore(url)
        try:
            return ShadowStore(store).frame()
        finally:
            store.dispose()

    # when the challenger decides in shadow the first part of the window, then all of it
    until = cut.date().isoformat()
    done = run_cli(["audit", "shadow", "--model", challenger, "--until", until, "--audit-url", url], env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert f"{len(early):,} audited decision(s) from the first to {until} decision date" in out
    assert f"0 had a shadow decision of version {shadow_version} already, {len(early):,} decided now" in out
    assert sorted(shadows()["decision_id"]) == sorted(early["decision_id"])
    done = run_cli(["audit", "shadow", "--model", challenger, "--audit-url", url], env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert f"{len(early):,} had a shadow decision of version {shadow_version} already" in out
    assert f"{len(audited) - len(early):,} decided now, 0 could not be decided" in out
    # then every decision has one shadow row, equal to the challenger's own decision of the same applicant
    stored = shadows()
    assert sorted(stored["decision_id"]) == sorted(audited["decision_id"])
    assert set(stored["model_version"]) == {shadow_version} and stored["error"].isna().all()
    merged = audited[["decision_id", "row"]].merge(stored, on="decision_id")
    merged = merged.merge(
        alone[["row", "decision", "prob_default", "limit"]], on="row", suffixes=("", "_alone")
    )
    assert (merged["decision"] == merged["decision_alone"]).all()
    assert (merged["prob_default"] == merged["prob_default_alone"]).all()
    approved = merged["decision"] == "approve"
    assert (merged.loc[approved, "limit"] == merged.loc[approved, "limit_alone"]).all()
    # and once more adds nothing; decisions of another version are not in the window
    engine, _ = load_engine(
        challenger, Settings(home=trained_model.home, tracking_uri=trained_model.tracking_uri)
    )
    store = AuditStore(url)
    try:
        again = fill_shadow(store, engine)
        other = fill_shadow(store, engine, decided_by="999")
    finally:
        store.dispose()
    assert (again.in_window, again.already, again.decided, again.errors) == (len(audited), len(audited), 0, 0)
    assert other.in_window == 0
    assert len(shadows()) == len(audited)
    # a careless date is a usage error naming the option, before any model is loaded
    done = run_cli(
        ["audit", "shadow", "--model", challenger, "--since", "2024-13-01", "--audit-url", url], env
    )
    assert done.returncode == 2 and "--since" in done.stdout + done.stderr
