# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4.0 The retraining loop: decide → audit → outcomes → monitor → retrain → gate → shadow → promote
#
# A bank's year with the model: the champion decides two years of applicants and every decision is
# audited; the loans it booked perform and their outcomes are imported a year later; `monitor` watches each
# year and goes amber when the world drifts (the generator's default process drifts from 2026); `retrain`
# learns from the bank's historical book plus the audited years and gates the new version; the challenger
# decides the same applicants in shadow; `promote --on-live` looks at both and moves the champion.
# Each step is a command of the product; here they are called from Python on small data.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

# retraining learns from booked loans only (a few percent of them default): it needs more firms than the
# other walkthroughs to find defaults in every slice of the out-of-time split
N_FIRMS = max(int(os.environ.get("NOTEBOOK_FIRMS", "5000")), 3000)
home = Path(tempfile.mkdtemp(prefix="credit-points-nb4-"))
os.environ["CREDIT_POINTS_HOME"] = str(home)
os.environ["CREDIT_POINTS_TRACKING_URI"] = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"

from credit_points.audit.store import AuditStore  # noqa: E402
from credit_points.config import CONFIG_DIR, Settings  # noqa: E402
from credit_points.datasets.generator_config import load_generator_config  # noqa: E402
from credit_points.pipelines.evaluate import run_promote  # noqa: E402
from credit_points.pipelines.generate import write_panel  # noqa: E402
from credit_points.pipelines.models import load_engine  # noqa: E402
from credit_points.pipelines.monitor import monitor_window  # noqa: E402
from credit_points.pipelines.outcomes import (  # noqa: E402
    decisions_from_audit,
    import_history,
    import_performance,
    simulate_outcomes,
)
from credit_points.pipelines.retrain import run_retrain  # noqa: E402
from credit_points.pipelines.score import BatchAudit, score_file  # noqa: E402
from credit_points.pipelines.train import run_train  # noqa: E402
from credit_points.reports.figures import calibration_by_grade_figure, stability_figure  # noqa: E402

pd.set_option("display.width", 160)
settings = Settings()

# %% [markdown]
# ## The world: a panel whose default process drifts from 2026
# `generate --config` takes a copy of `configs/generator.yaml`; here the drift starts in 2026 and is strong
# (log-odds +1.5 a year, leverage hurting more, innovation helping less). Nothing changes in the inputs: only
# outcomes can reveal it.

# %%
raw = yaml.safe_load((CONFIG_DIR / "generator.yaml").read_text(encoding="utf-8"))
raw["default_model"].update(drift_start_year=2026, drift_logit_per_year=1.5, drift_leverage_per_year=0.5,
                            drift_innovation_per_year=-0.5)  # fmt: skip
(home / "generator.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
paths = write_panel(home / "data" / "raw", n_firms=N_FIRMS, years=(2019, 2026), seed=41,
                    config=load_generator_config(str(home / "generator.yaml")))  # fmt: skip
applicants = pd.read_parquet(paths["applicants"])
applicants.groupby(applicants["as_of_date"].dt.year)["default_12m"].agg(["size", "mean"]).rename(
    columns={"size": "firm-years", "mean": "default rate"}
)

# %% [markdown]
# ## The champion: trained on the years up to 2024, promoted through the gate

# %%
history = applicants[applicants["as_of_date"].dt.year <= 2024]
history.to_parquet(home / "history.parquet", index=False)
first = run_train(home / "history.parquet", settings=settings)
promoted = run_promote(home / "history.parquet", settings=settings)
print(f"version {first.version}: gate {'passed' if promoted.promoted else 'failed'}, now @champion")

# %% [markdown]
# ## Decide and audit two years: 2025 (stable) and 2026 (drifted)
# `score --audit`: every decision is written to the hash-chained audit store, as the API writes its own.

# %%
store = AuditStore(f"sqlite:///{home / 'data' / 'audit.db'}")
store.create_schema()
champion, resolved = load_engine("models:/credit-points@champion", settings)
for year in (2025, 2026):
    part = applicants[applicants["as_of_date"].dt.year == year].drop(columns=["default_12m"])
    part.to_parquet(home / f"applicants-{year}.parquet", index=False)
    summary = score_file(champion, home / f"applicants-{year}.parquet", home / f"decided-{year}.parquet",
                         audit=BatchAudit(store, f"notebook-{year}"))  # fmt: skip
    print(year, f"{summary.audited_new:,} decisions audited")

# %% [markdown]
# ## A year later: the booked loans' outcomes, and the bank's historical book
# The generator's truth plays the loans out (take-up, performance rows); `outcomes import` stores them beside
# the chain, matched to the decisions that booked each loan. The bank's own book before the product (up to
# 2024, its decisions and the outcomes of its loans) is imported once.

# %%
decisions = pd.read_parquet(paths["historical_decisions"])
decisions[pd.to_datetime(decisions["as_of_date"]).dt.year <= 2024].to_parquet(home / "book.parquet", index=False)
import_history(store, home / "book.parquet")
book = pd.read_parquet(paths["performance"])
book = book[pd.to_datetime(book["as_of_date"]).dt.year <= 2024]
book.to_parquet(home / "book-performance.parquet", index=False)
rows, simulated = simulate_outcomes(decisions_from_audit(store), pd.read_parquet(paths["truth"]))
rows.to_parquet(home / "performance-2025-2026.parquet", index=False)
print(f"{simulated.booked:,} audited loans booked; {len(rows):,} performance rows")

# %% [markdown]
# ## Monitor each year
# PSI/CSI against the champion's training sample (band **and** significance), and the back-test of the
# matured loans with the validation pack's traffic lights. Both years show what the calendar does to one
# panel of firms — they are older than in the training years (`firm_age_years`) — and 2026, whose inputs
# look like 2025's, shows the drift of the default process in its back-test: many more defaults than the
# champion predicted.

# %%
import datetime as dt  # noqa: E402

for file in ("book-performance.parquet", "performance-2025-2026.parquet"):
    import_performance(store, home / file, today=dt.date(2028, 1, 1))
windows = {}
for year in (2025, 2026):
    windows[year] = monitor_window(store, champion, since=dt.date(year, 1, 1), until=dt.date(year, 12, 31))
    w = windows[year]
    print(year, w.status.upper(), f"{w.decisions:,} decisions, {w.backtest.get('matured', 0):,} matured")
    for reason in w.reasons:
        print("   ", reason)

# %%
fig = stability_figure(windows[2026].stability, 0.10, 0.25, title="2026: stability against training")
plt.show()

# %%
fig = calibration_by_grade_figure(pd.DataFrame(windows[2026].backtest["grade_table"]),
                                  title="2026: observed against predicted default rate")  # fmt: skip
plt.show()

# %% [markdown]
# ## Retrain: the historical book plus the audited years, gated against the champion
# `retrain` builds the point-in-time table (inputs and points as decided), trains with the configured reject
# inference, and registers the new version as `@challenger` only if it passes the gate.

# %%
result = run_retrain(store, settings=settings)
print(f"version {result.version}: {'@challenger' if result.passed else 'refused: ' + ', '.join(result.failed)}")
for warning in result.warnings:
    print("warning:", warning)

# %%
again = run_retrain(store, settings=settings)
print(f"the same inputs again: new version {again.new_version} (version {again.version})")

# %% [markdown]
# ## The challenger in shadow on 2026's applicants
# `score --audit --shadow`: the champion's decisions (already in the chain: nothing is written twice) and the
# challenger's beside them, in the shadow table. `monitor` compares them.

# %%
challenger, _ = load_engine(f"models:/credit-points/{result.version}", settings)
score_file(champion, home / "applicants-2026.parquet", home / "decided-2026-again.parquet",
           audit=BatchAudit(store, "notebook-shadow", shadow=challenger))  # fmt: skip
live = monitor_window(store, champion, since=dt.date(2026, 1, 1), until=dt.date(2026, 12, 31)).shadow[0]
pd.DataFrame(live["table"]).pivot(index="champion", columns="shadow", values="n").fillna(0).astype(int)

# %%
{k: live[k] for k in ("compared", "agreement", "swap_in", "swap_out", "limit_champion", "limit_shadow")}

# %% [markdown]
# ## Promote with the live comparison beside the gate
# `promote --on-live`: the gate decides; the shadow comparison is shown and logged with it.

# %%
if result.passed:
    final = run_promote(result.table, settings=settings, live_store=store)
    print(f"version {final.challenger.version} {'is now @champion' if final.promoted else 'stays challenger'}")
else:
    print("no challenger to promote: the gate refused the retrained version")
