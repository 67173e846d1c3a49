"""`credit-points monitor` on the generator's own drift, through the real command line on SQLite and
PostgreSQL: a panel whose default process drifts from 2025 is scored and audited year by year, officers
override some decisions, the booked loans' outcomes are imported a year later, and `monitor` stays green on
the stable year and turns amber or red on the drifted one. The back-test agrees with the validation pack's
own functions on an independent join (score outputs × the generator's truth), the override analysis with
the overrides written, the report renders in Chromium and the MLflow run is linked to the version."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from credit_points.audit.store import AuditStore
from credit_points.config import CONFIG_DIR

from ..chromium import CHROMIUM, run_chromium
from .cli import run_cli

pytestmark = pytest.mark.slow

#: appended to a page: every error event (capturing: failed images too) and the images that did not load
_CHECK = """<script>
window.__errors = window.__errors || [];
(function () {
  var broken = [];
  document.querySelectorAll('img').forEach(function (img) { if (!img.complete || img.naturalWidth === 0) { broken.push(img.alt); } });
  var root = document.documentElement;
  document.body.setAttribute('data-check', JSON.stringify({errors: window.__errors, broken: broken,
    width: root.clientWidth, scrollWidth: root.scrollWidth, textLength: document.body.innerText.length,
    images: document.querySelectorAll('img').length}));
})();
</script></body>"""
_CATCH = ("<head><script>window.__errors = []; window.addEventListener('error', function (e) { "
          "window.__errors.push(String(e.message || (e.target && e.target.tagName))); }, true);</script>")  # fmt: skip


def _drifting_generator(path: Path) -> Path:
    """``configs/generator.yaml`` with the default process drifting hard from 2025 (none before)."""
    raw = yaml.safe_load((CONFIG_DIR / "generator.yaml").read_text(encoding="utf-8"))
    raw["default_model"].update(
        drift_start_year=2025,
        drift_logit_per_year=1.5,
        drift_leverage_per_year=0.5,
        drift_innovation_per_year=-0.5,
    )
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_monitor_is_green_on_a_stable_year_and_alarms_on_the_generators_drift(
    trained_model, tmp_path, audit_target
):
    url, env = audit_target
    model = f"models:/credit-points/{trained_model.version}"
    panel = tmp_path / "panel"

    def cli(args: list[str]) -> subprocess.CompletedProcess[str]:
        result = run_cli(args, env)
        assert result.returncode in (0, 1, 2), result.stdout + result.stderr
        return result

    # given a panel drawn with the generator's drift switched on from 2025
    done = cli(["generate", "--firms", "2000", "--years", "2022-2025", "--seed", "5", "--out", str(panel),
                "--config", str(_drifting_generator(tmp_path / "generator.yaml"))])  # fmt: skip
    assert done.returncode == 0, done.stderr
    applicants = pd.read_parquet(panel / "applicants.parquet")
    outputs = {}
    for year in (2024, 2025):  # decided and audited as they came in
        part = applicants[applicants["as_of_date"].dt.year == year].drop(columns=["default_12m"])
        part.to_parquet(tmp_path / f"in-{year}.parquet")
        done = cli(["score", "--model", model, "--in", str(tmp_path / f"in-{year}.parquet"),
                    "--out", str(tmp_path / f"out-{year}.parquet"), "--audit", "--audit-url", url])  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        outputs[year] = pd.read_parquet(tmp_path / f"out-{year}.parquet")
    # and officers who approve 20 of 2024's declines and decline 5 of its approvals
    decided = outputs[2024]
    to_approve = decided.loc[decided["decision"] == "decline", "decision_id"].head(20).tolist()
    to_decline = decided.loc[decided["decision"] == "approve", "decision_id"].head(5).tolist()
    prefix = env.get("CREDIT_POINTS_AUDIT_TABLE_PREFIX", "")
    store = AuditStore(url, table_prefix=prefix)
    try:
        for did in to_approve:
            store.append_override(did, reason="relationship", officer="officer-a", scope="decision",
                                  new_values={"decision": "approve", "limit": 500_000})  # fmt: skip
        for did in to_decline:
            store.append_override(did, reason="sector outlook", officer="officer-b", scope="decision",
                                  new_values={"decision": "decline"})  # fmt: skip
    finally:
        store.dispose()
    # and a year later the booked loans' outcomes, imported
    done = cli(["outcomes", "simulate", "--truth", str(panel / "truth.parquet"), "--audit", "--audit-url", url,
                "--out", str(tmp_path / "performance.parquet")])  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli(["outcomes", "import", "--file", str(tmp_path / "performance.parquet"), "--audit-url", url,
                "--today", "2027-06-30"])  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    def monitor(year: int) -> tuple[int, dict, str, Path]:
        out = tmp_path / f"monitor-{year}"
        result = cli(["monitor", "--model", model, "--since", f"{year}-01-01", "--until", f"{year}-12-31",
                      "--out", str(out), "--audit-url", url])  # fmt: skip
        figures = json.loads((out / "monitor.json").read_text(encoding="utf-8"))
        return result.returncode, figures, result.stdout + result.stderr, out

    # when the stable year is monitored: green, with a back-test of its matured loans
    code, stable, text, out = monitor(2024)
    assert (code, stable["status"]) == (0, "green"), text
    backtest = stable["backtest"]
    assert backtest["status"] == "green" and backtest["matured"] > 300, text
    # the back-test equals the validation pack's own functions on an independent join
    from credit_points.pd_model.validation import auc_with_ci, grade_table

    booked = set(pd.read_parquet(tmp_path / "performance.parquet")["decision_id"])
    truth = pd.read_parquet(panel / "truth.parquet")[["firm_id", "as_of_date", "default_12m"]]
    loans = decided[decided["decision_id"].isin(booked)].merge(truth, on=["firm_id", "as_of_date"])
    assert len(loans) == backtest["matured"]
    scale = trained_model.engine.pd_config.master_scale
    expected = grade_table(loans["default_12m"], loans["prob_default"], loans["grade"].astype(str), scale)
    shown = pd.DataFrame(backtest["grade_table"])
    assert shown["n"].tolist() == expected["n"].tolist()
    assert shown["defaults"].tolist() == expected["defaults"].tolist()
    assert shown["traffic_light"].tolist() == expected["traffic_light"].tolist()
    assert backtest["metrics"]["auc"] == pytest.approx(
        auc_with_ci(loans["default_12m"], loans["prob_default"])["auc"]
    )
    assert backtest["portfolio"]["defaults"] == int(loans["default_12m"].sum())
    # the override analysis counts what the officers did, and how their loans performed
    overrides = stable["overrides"]
    assert overrides["overrides"] == 25 and overrides["decisions_overridden"] == 25
    assert overrides["rate"] == pytest.approx(25 / stable["decisions"])
    assert {r["reason"]: r["n"] for r in overrides["by_reason"]} == {"relationship": 20, "sector outlook": 5}
    assert {r["officer"]: r["n"] for r in overrides["by_officer"]} == {"officer-a": 20, "officer-b": 5}
    assert {(c["from"], c["to"]): c["n"] for c in overrides["changes"]} == {
        ("decline", "approve"): 20,
        ("approve", "decline"): 5,
    }
    overridden = loans[loans["decision_id"].isin(to_approve)]
    group = {g["group"]: g for g in overrides["performance"]}
    assert group["override"]["matured"] == len(overridden) > 0
    assert group["override"]["defaults"] == int(overridden["default_12m"].sum())
    assert group["model"]["matured"] == len(loans) - len(overridden)
    # limits by stage and product add up to the approvals in force
    book = pd.DataFrame(stable["book"])
    assert book["decisions"].sum() == stable["decisions"]
    assert book["approve"].sum() == round(stable["decision_mix"]["approve"] * stable["decisions"])

    # when the drifted year is monitored: amber or red, and the reason names the back-test
    code, drifted, text, _ = monitor(2025)
    assert code in (1, 2) and drifted["status"] in ("amber", "red"), text
    assert drifted["backtest"]["status"] in ("amber", "red")
    assert any(r.startswith("back-test") and "Jeffreys p" in r for r in drifted["reasons"]), text
    assert "back-test" in text

    # the reports carry the verdict in both languages
    for lang, title in (("zh", "模型监测报告"), ("en", "Model monitoring report")):
        html = (out / f"monitoring_report_{lang}.html").read_text(encoding="utf-8")
        assert title in html and 'data-value="green"' in html
        assert html.count('src="data:image/png;base64,') == 3  # stability, grade mix, calibration
        lights = dict(re.findall(r'data-grade="([^"]+)" data-light="([^"]+)"', html))
        seen = expected[expected["n"] > 0]
        assert {g: lights[g] for g in seen["grade"]} == dict(
            zip(seen["grade"], seen["traffic_light"], strict=True)
        )

    if url.startswith("sqlite"):
        _check_in_chromium(out / "monitoring_report_zh.html", tmp_path)
        _check_mlflow_run(trained_model, stable, drifted)


def _check_in_chromium(page: Path, tmp_path: Path) -> None:
    """The report renders in headless Chromium: no error event, every chart loaded, no horizontal scroll."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    html = page.read_text(encoding="utf-8").replace("<head>", _CATCH, 1).replace("</body>", _CHECK)
    checked = tmp_path / "checked.html"
    checked.write_text(html, encoding="utf-8")
    done = run_chromium(["--enable-logging=stderr", "--v=0", "--window-size=1200,3000",
                         "--virtual-time-budget=3000", "--dump-dom", checked.as_uri()], tmp_path / "profile")  # fmt: skip
    match = re.search(r'data-check="([^"]*)"', done.stdout)
    assert match, done.stderr[-2000:]
    check = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["errors"] == [] and check["broken"] == [] and check["images"] == 3, check
    assert check["scrollWidth"] <= check["width"] and check["textLength"] > 1000, check
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console


def _check_mlflow_run(trained_model, stable: dict, drifted: dict) -> None:
    """Each window is an MLflow run linked to the version; the version names its last monitoring run."""
    import mlflow

    uri = trained_model.tracking_uri
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.run_kind = 'monitoring' and tags.model_version = '{trained_model.version}'",
        output_format="list",
    )
    by_status = {r.data.tags["monitoring_status"]: r for r in runs}
    assert {"green", drifted["status"]} <= set(by_status)
    run = by_status["green"]
    assert run.data.metrics["decisions"] == stable["decisions"]
    assert run.data.metrics["backtest_n"] == stable["backtest"]["matured"]
    assert run.data.metrics["override_rate"] == pytest.approx(stable["overrides"]["rate"])
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"monitor.json", "monitoring_report_zh.html", "monitoring_report_en.html"} <= names
    version = client.get_model_version("credit-points", str(trained_model.version))
    assert version.tags["monitoring.last_status"] in ("amber", "red")  # the drifted window ran last
