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
from credit_points.policy.config import load_policy  # noqa: E402

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

# %% [markdown]
# ## Moving the levers
# Each scenario is an overlay file merged over `configs/policy/default.yaml` (what a partner bank ships).

# %%
scenarios = {
    "base": None,
    "PD cut-off 4%": {"decision": {"pd_cutoff": 0.04, "refer_pd_above": 0.03}},
    "PD cut-off 12%": {"decision": {"pd_cutoff": 0.12}},
    "richer points multipliers": {
        "points_multipliers": [
            {"min_points": 110, "multiplier": 1.3}, {"min_points": 100, "multiplier": 1.15},
            {"min_points": 80, "multiplier": 0.9}, {"min_points": 60, "multiplier": 0.6},
            {"min_points": None, "multiplier": 0.0},
        ]
    },
}  # fmt: skip
import yaml  # noqa: E402

rows = []
for name, overlay in scenarios.items():
    overlays = []
    if overlay is not None:
        path = home / f"overlay-{len(rows)}.yaml"
        path.write_text(yaml.safe_dump(overlay), encoding="utf-8")
        overlays.append(path)
    policy = load_policy("default", overlays)
    scenario_engine = engine.with_policy(policy)
    s = PortfolioSummary()
    s.add(scenario_engine.decide(portfolio, explain="none"))
    rows.append({"scenario": name, **s.table().iloc[0].to_dict()})
pd.DataFrame(rows).set_index("scenario")[["approval_rate", "refer_rate", "total_limit", "expected_loss_net", "el_rate"]].round(4)
