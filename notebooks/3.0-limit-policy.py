# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3.0 The limit policy: how points and PD become products, limits and decisions
#
# A generated portfolio decided by a freshly trained engine; approval and limits by stage and product; then
# the same portfolio under a changed policy — a tighter PD cut-off, a richer points multiplier — to see what
# each lever does to the approval rate and the expected loss. Policy changes are YAML overlays, never code.

# %%
import os
import tempfile
from pathlib import Path

import pandas as pd

N_FIRMS = int(os.environ.get("NOTEBOOK_FIRMS", "3000"))
home = Path(tempfile.mkdtemp(prefix="credit-points-nb3-"))
os.environ["CREDIT_POINTS_HOME"] = str(home)
os.environ["CREDIT_POINTS_TRACKING_URI"] = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"

from credit_points.config import Settings  # noqa: E402
from credit_points.pipelines.common import load_applicants  # noqa: E402
from credit_points.pipelines.generate import write_panel  # noqa: E402
from credit_points.pipelines.models import load_engine  # noqa: E402
from credit_points.pipelines.score import PortfolioSummary  # noqa: E402
from credit_points.pipelines.train import run_train  # noqa: E402

pd.set_option("display.width", 160)
settings = Settings()

# %%
paths = write_panel(home / "data" / "raw", n_firms=N_FIRMS, years=(2019, 2024), seed=31)
run_train(paths["applicants"], settings=settings)
engine, resolved = load_engine("models:/credit-points@challenger", settings)
frame = load_applicants(paths["applicants"]).frame
portfolio = frame[frame["as_of_date"].dt.year == 2024].drop(columns=["default_12m"]).reset_index(drop=True)
decided = engine.decide(portfolio)
print(f"{len(decided):,} applicants decided with {resolved.name} version {resolved.version}")

# %% [markdown]
# ## Approval and limits by stage and product

# %%
summary = PortfolioSummary()
summary.add(decided)
summary.table("stage").round(4)

# %%
summary.table("product").round(4)

# %% [markdown]
# ## One firm's waterfall

# %%
approved = decided[decided["decision"] == "approve"].iloc[0]
approved[["stage", "points_total", "prob_default", "grade", "product", "capacity", "points_multiplier",
          "risk_multiplier", "limit_capacity", "limit_after_points", "limit_after_risk", "limit_after_headroom",
          "limit_after_cap", "limit", "binding_constraint", "rate", "expected_loss_net"]]  # fmt: skip

# %%
steps = approved[["limit_capacity", "limit_after_points", "limit_after_risk", "limit_after_headroom",
                  "limit_after_cap", "limit"]].astype(float) / 1e4  # fmt: skip
ax = steps.plot.bar(figsize=(7, 3.2), color="#1565c0", rot=20)
ax.set_ylabel("10,000 yuan")
ax.set_title(f"the limit, step by step (binding: {approved['binding_constraint']})");

# %% [markdown]
# ## Moving the levers
# Each scenario is an overlay of the policy in force (what a risk committee changes), simulated with
# `simulate_policy` — what `credit-points policy simulate FILE --in APPLICANTS` runs: the model scores the
# portfolio once, the policy runs twice, nothing is registered. 积分贷 follows the policy's own PD cut-off,
# refer band and points multipliers; the other products set theirs, so a policy-level lever moves 积分贷
# only, and a `product_overrides` lever moves the products it names.

# %%
import yaml  # noqa: E402

from credit_points.pipelines.policy_sim import load_proposed_policy, simulate_policy  # noqa: E402

every = ("keji_dai", "shanxin_dai", "jifen_dai", "renewal_without_principal")
scenarios = {
    "科技贷 cap 10 M -> 5 M": {"product_overrides": {"keji_dai": {"cap": 5_000_000}}},
    "PD cut-off 5% on every product": {"product_overrides": {p: {"pd_cutoff": 0.05} for p in every}},
    "policy PD cut-off 4% (积分贷)": {"decision": {"pd_cutoff": 0.04, "refer_pd_above": 0.03}},
    "PD cut-off 12% on every product": {"product_overrides": {p: {"pd_cutoff": 0.12} for p in every}},
    "richer points multipliers (积分贷)": {
        "points_multipliers": [
            {"min_points": 110, "multiplier": 1.3}, {"min_points": 100, "multiplier": 1.15},
            {"min_points": 80, "multiplier": 0.9}, {"min_points": 60, "multiplier": 0.6},
            {"min_points": None, "multiplier": 0.0},
        ]
    },
}  # fmt: skip

rows, sims = [], {}
for n, (name, overlay) in enumerate(scenarios.items()):
    path = home / f"overlay-{n}.yaml"
    path.write_text(yaml.safe_dump(overlay, allow_unicode=True), encoding="utf-8")
    sims[name] = sim = simulate_policy(engine, load_proposed_policy(path, engine.policy), portfolio)
    h = sim.headline
    rows.append(
        {
            "scenario": name,
            "approval": f"{h['current']['approval_rate']:.1%} -> {h['proposed']['approval_rate']:.1%}",
            "total_limit_change": h["proposed"]["total_limit"] - h["current"]["total_limit"],
            "expected_loss_change": h["proposed"]["expected_loss_net"] - h["current"]["expected_loss_net"],
            "swap_ins": h["swap-in"]["firms"],
            "swap_outs": h["swap-out"]["firms"],
            "limits_down": h["limit_changes"]["down"],
            "firms_changed": h["changed_firms"],
        }
    )
levers = pd.DataFrame(rows).set_index("scenario")
levers.round(0)

# %% [markdown]
# The swap set of the loosest scenario (every product's cut-off at 12%): firms newly approved are swap-ins, and their expected loss is
# **extrapolated** — the model's PD on firms the policy in force never lent to.

# %%
loosest = sims["PD cut-off 12% on every product"]
loosest.swaps
