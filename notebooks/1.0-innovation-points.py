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
# # 1.0 Innovation points: a zone's scoring walk-through
#
# 企业创新积分 for one generated zone: stages, the reference population, points by stage, one firm's
# portrait and its weak spots (短板). Everything is computed by `credit_points.points`; this notebook only
# calls it. The default profile `torch-18` is a reconstruction in the shape of the 2024 national guide —
# its `provenance` says which parts are published facts.

# %%
import pandas as pd

from credit_points.datasets.generator import generate_panel
from credit_points.points.config import load_points_config
from credit_points.points.diagnosis import indicator_targets, weak_spots
from credit_points.points.scorer import PointsScorer, build_reference

pd.set_option("display.width", 160)
N_FIRMS = 400  # small, so the notebook runs in seconds

# %% [markdown]
# ## The profile

# %%
config = load_points_config("torch-18")
print(config.label_zh, "·", config.version, "·", config.content_hash[:16])
print(config.provenance)
pd.DataFrame([s.model_dump() for s in config.stages])

# %%
weights = pd.DataFrame(config.stage_weight_matrix.T, index=config.indicator_ids, columns=config.stage_ids)
weights.round(2)

# %% [markdown]
# ## A zone's population and its pinned reference table
# The latest year's firms are the reference; every applicant is scored against this table, so a firm scored
# alone gets the same points as inside the batch.

# %%
applicants, _ = generate_panel(N_FIRMS, years=(2019, 2024), seed=1)
latest = applicants[applicants["as_of_date"].dt.year == applicants["as_of_date"].dt.year.max()]
reference = build_reference(latest, config, label="generated zone, latest year")
print("reference sha256", reference.content_hash[:16])
pd.Series({s: body["n_firms"] for s, body in reference.stages.items()}, name="reference firms")

# %% [markdown]
# ## Points by stage

# %%
scorer = PointsScorer(config, reference)
scored = scorer.score(latest)
scored.groupby("stage", sort=False)[["points_total", "points_core", "points_bonus", "points_deductions"]].describe().round(1)

# %%
ax = scored.boxplot(column="points_total", by="stage", grid=False, figsize=(7, 3.5))
ax.set_title("points by stage: each stage compared within itself")
ax.set_xlabel("")
ax.get_figure().suptitle("");

# %%
scored.groupby("stage", sort=False)[[f"points_cat_{c}" for c in config.category_ids]].mean().round(1)

# %%
scored["veto_reasons"].value_counts()

# %% [markdown]
# ## One firm's portrait

# %%
firm = scored.sort_values("points_total").index[len(scored) // 2]
row = scored.loc[firm]
row[["stage", "points_total", "points_core", "points_bonus", "points_deductions", "veto", "rank_zone", "rank_stage"]]

# %%
portrait = pd.DataFrame(
    {
        "label": [config.label(i, "zh") for i in config.indicator_ids],
        "value": [row[f"ind_{i}_value"] for i in config.indicator_ids],
        "stage_pct": [row[f"ind_{i}_pct"] for i in config.indicator_ids],
        "points": [row[f"ind_{i}_points"] for i in config.indicator_ids],
    },
    index=config.indicator_ids,
)
portrait.round(3)

# %% [markdown]
# ## Weak spots (短板) and targets

# %%
spots = weak_spots(latest.loc[[firm]], scored.loc[[firm]], config, reference, k=3)
for zh, en in zip(spots["text_zh"], spots["text_en"], strict=True):
    print(zh, "|", en)

# %%
indicator_targets(config, reference, indicators=["rd_intensity", "invention_patents_valid"]).round(3)
