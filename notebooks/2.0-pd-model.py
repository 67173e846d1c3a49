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
# # 2.0 The default-risk model: training out of time, validation, SHAP, champion vs challenger
#
# A data scientist's quarterly retraining on generated data, end to end through the product's own jobs:
# `run_train` (points per cohort → monotone LightGBM + Platt calibration, WoE-scorecard challenger →
# bundle → MLflow run and registry, alias `challenger`) and `run_promote` (the gate). The MLflow store
# lives in a throwaway folder so the notebook never touches the project's own store.

# %%
import os
import tempfile
from pathlib import Path

import pandas as pd

N_FIRMS = int(os.environ.get("NOTEBOOK_FIRMS", "3000"))  # small by default, so CI runs it in seconds
home = Path(tempfile.mkdtemp(prefix="credit-points-nb2-"))
os.environ["CREDIT_POINTS_HOME"] = str(home)
os.environ["CREDIT_POINTS_TRACKING_URI"] = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"

from credit_points.config import Settings  # noqa: E402  (after the environment is set)
from credit_points.pd_model.config import load_pd_config  # noqa: E402
from credit_points.pd_model.training import fit_pd_model  # noqa: E402
from credit_points.pipelines.common import load_applicants, score_points_by_cohort  # noqa: E402
from credit_points.pipelines.evaluate import run_promote  # noqa: E402
from credit_points.pipelines.generate import write_panel  # noqa: E402
from credit_points.pipelines.train import run_train  # noqa: E402
from credit_points.points.config import load_points_config  # noqa: E402
from credit_points.reports.figures import calibration_by_grade_figure, roc_figure, shap_summary_figure  # noqa: E402

pd.set_option("display.width", 160)
settings = Settings()

# %% [markdown]
# ## Data: a generated zone, 2019–2024, with its outcomes
# `true_pd` (the probability each row was drawn with) is written apart and never used as an input; it gives
# the oracle AUC that no model can beat on the same rows.

# %%
paths = write_panel(home / "data" / "raw", n_firms=N_FIRMS, years=(2019, 2024), seed=21)
loaded = load_applicants(paths["applicants"], require_outcome=True)
frame = loaded.frame.reset_index(drop=True)
frame.groupby(frame["as_of_date"].dt.year)["default_12m"].agg(["size", "mean"])

# %% [markdown]
# ## Fit out of time
# Train on the earlier cohorts, calibrate on the next, test on the latest; a seeded 30% of firms are held out
# for the test side only, so no firm is in both.

# %%
points, reference = score_points_by_cohort(frame, load_points_config("torch-18"))
fit = fit_pd_model(pd.concat([frame, points], axis=1), load_pd_config("default"))
pd.Series(fit.split.as_dict())

# %%
pd.Series(fit.metrics).round(4)

# %% [markdown]
# ### The validation pack on the out-of-time cohort

# %%
truth = pd.read_parquet(paths["truth"])
oot = frame.iloc[fit.split.test][["firm_id", "as_of_date"]].merge(truth, on=["firm_id", "as_of_date"])
from sklearn.metrics import roc_auc_score  # noqa: E402

print(f"OOT AUC {fit.metrics['auc']:.4f}; oracle AUC of true_pd on the same rows {roc_auc_score(fit.y_oot, oot['true_pd']):.4f}")
fit.validation["grade_table"]

# %%
roc_figure(fit.y_oot, fit.prob_default_oot);

# %%
calibration_by_grade_figure(fit.validation["grade_table"]);

# %% [markdown]
# ### SHAP summary (LightGBM's own TreeSHAP, in calibrated log-odds)

# %%
sample = fit.X_oot.sample(n=min(1000, len(fit.X_oot)), random_state=0)
contrib, base = fit.model.contributions(sample)
shap_summary_figure(contrib, sample);

# %% [markdown]
# ## Champion vs challenger
# The product model (LightGBM, or its blend with the scorecard when that validates better) against the
# WoE-logistic scorecard alone, on the same out-of-time rows.

# %%
pd.DataFrame(
    {
        "model": fit.validation["metrics"],
        "scorecard challenger": fit.challenger_validation["metrics"],
    }
).loc[["auc", "gini", "ks", "brier", "ece", "hl_p_value"]].round(4)

# %% [markdown]
# ## The retraining workflow: register, then gate
# `run_train` logs the run (params, data digest, metrics, figures, model card) and registers a version with
# alias `challenger`; `run_promote` moves `champion` only if every gate criterion passes.

# %%
outcome = run_train(paths["applicants"], settings=settings)
promotion = run_promote(paths["applicants"], settings=settings)
promotion.gate.to_frame()

# %% [markdown]
# ### The verdict
# The gate measures the OOT AUC on the same rows as the model card (the out-of-time window's applications of
# firms the model never saw), so the figure above is the one it judged. A refusal names each failing
# criterion with its value and threshold: too few defaults to judge (`enough_defaults`: generate more firms),
# an AUC below the floor, a grade whose observed default rate is far above its PD, or a score population
# that moved (PSI).

# %%
card = outcome.model_card["out_of_time"]
print(f"model card: OOT AUC {card['auc']:.4f} on {card['rows']:,} rows {card['window'][0]}..{card['window'][1]} "
      f"({card['definition']})")  # fmt: skip
if promotion.promoted:
    print(f"promoted: version {promotion.challenger.version} passed every criterion and is now @champion")
else:
    print(f"not promoted: version {promotion.challenger.version} stays @challenger, because")
    for c in promotion.gate.failures:
        print(f"  {c.name}: {c.detail} (threshold {c.threshold})")
