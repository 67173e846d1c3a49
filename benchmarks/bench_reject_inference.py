"""Reject inference measured against the generator's truth, on the population that applies.

Run: ``.venv/bin/python benchmarks/bench_reject_inference.py [--firms N] [--seeds 1,2,3]``. Prints a table
and, last, one line ``RESULT {json}`` that ``benchmarks/run_all.py`` reads.

For each seed: a generated panel (2019-2024) and the bank's historical book of it
(``datasets/lender_view.historical_decisions``: the previous model's decisions up to 2022, loans booked at
the take-up rate). The book's booked loans carry their outcome (``default_12m``, which the performance file
reports once the window closes — the equality is tested in ``tests/integration``); every other applicant
has none. Each method trains on that table exactly as ``train`` does (``fit_pd_model``, points of every
applicant per year); the reference trains on every applicant's true outcome (full information).

Every model then decides **every applicant of 2023** — the year after the book, through the door,
declined or not — with the default policy, and is scored against their true outcomes: AUC, ECE, and the
share of the AUC gap it recovers, (AUC_method − AUC_none) / (AUC_full − AUC_none); and under the policy, the
approval rate, the total limit and the expected loss (true PD × LGD × EAD) of what it approves. The
truth is read here, for scoring, and never by a model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

METHODS = ("none", "reweight", "augment", "parcel")


def one_seed(seed: int, n_firms: int) -> dict[str, dict[str, float]]:
    from sklearn.metrics import roc_auc_score

    from credit_points.datasets.fields import load_fields
    from credit_points.datasets.generator import generate_panel
    from credit_points.datasets.generator_config import load_generator_config
    from credit_points.datasets.lender_view import historical_decisions
    from credit_points.engine import DecisionEngine, ModelIdentity
    from credit_points.explain.config import load_reason_codes
    from credit_points.pd_model.config import load_pd_config
    from credit_points.pd_model.reject_inference import with_reject_inference
    from credit_points.pd_model.training import fit_pd_model
    from credit_points.pd_model.validation import expected_calibration_error
    from credit_points.pipelines.common import score_points_by_cohort
    from credit_points.points.config import load_points_config
    from credit_points.policy.config import load_policy

    years = (2019, 2024)
    applicants, truth = generate_panel(n_firms, years=years, seed=seed)
    spec = load_generator_config().lender
    book = historical_decisions(applicants, truth, years, spec, seed)
    in_book = (applicants["as_of_date"] <= book["as_of_date"].max()).to_numpy()
    known = applicants.loc[in_book].reset_index(drop=True)
    booked = book["booked"].to_numpy()
    lender = known.assign(default_12m=known["default_12m"].where(booked))  # outcomes of booked loans only
    points_cfg, base_cfg, policy = (
        load_points_config("torch-18"),
        load_pd_config("default"),
        load_policy("default"),
    )
    points, reference = score_points_by_cohort(known, points_cfg)
    door = applicants[applicants["as_of_date"].dt.year == years[1] - 1].reset_index(drop=True)
    door_truth = truth[(applicants["as_of_date"].dt.year == years[1] - 1).to_numpy()].reset_index(drop=True)
    y_door = door["default_12m"].to_numpy(dtype="float64")
    true_pd = door_truth["true_pd"].to_numpy(dtype="float64")
    frames = {m: lender for m in METHODS} | {"full": known}
    out: dict[str, dict[str, float]] = {}
    for name, frame in frames.items():
        cfg = with_reject_inference(base_cfg, "none" if name == "full" else name)
        start = time.perf_counter()
        fit = fit_pd_model(pd.concat([frame, points], axis=1), cfg)
        seconds = time.perf_counter() - start
        engine = DecisionEngine(
            points_config=points_cfg, reference=reference, pd_config=cfg, classifier=fit.model, policy=policy,
            reason_codes_config=load_reason_codes(), fields=load_fields(), identity=ModelIdentity(name="bench"),
        )  # fmt: skip
        decided = engine.decide(door.drop(columns=["default_12m"]), explain="none")
        prob = decided["prob_default"].to_numpy(dtype="float64")
        approved = (decided["decision"] == "approve").to_numpy()
        limit = np.where(approved, decided["limit"].to_numpy(dtype="float64"), 0.0)
        exposure = np.where(approved, (decided["ead"] * decided["lgd"]).to_numpy(dtype="float64"), 0.0)
        out[name] = {
            "auc": float(roc_auc_score(y_door, prob)),
            "auc_true_pd": float(roc_auc_score(y_door, true_pd)),
            "ece": float(expected_calibration_error(y_door, prob)),
            "mean_pd": float(prob.mean()),
            "default_rate": float(y_door.mean()),
            "approval_rate": float(approved.mean()),
            "total_limit": float(limit.sum()),
            "expected_loss": float(np.nansum(true_pd * exposure)),
            "fit_s": seconds,
            "booked_share": float(booked.mean()),
        }
    full, none = out["full"], out["none"]
    for name in METHODS:
        gap = full["auc"] - none["auc"]
        out[name]["gap_recovered"] = (
            float((out[name]["auc"] - none["auc"]) / gap) if gap > 0 else float("nan")
        )
        out[name]["ece_vs_full"] = out[name]["ece"] / full["ece"] if full["ece"] > 0 else float("nan")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=4000)
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = {seed: one_seed(seed, args.firms) for seed in seeds}
    names = [*METHODS, "full"]

    def stat(name: str, key: str) -> tuple[float, float]:
        values = np.array([runs[s][name][key] for s in seeds], dtype="float64")
        return float(np.nanmean(values)), float(np.nanstd(values))

    first = runs[seeds[0]]["none"]
    print(f"reject inference, {args.firms:,} firms, seeds {seeds}: the 2023 applicants through the door "
          f"(default rate {first['default_rate']:.3f}; book booked {first['booked_share']:.0%} of 2019-2022)")  # fmt: skip
    print(f"{'method':<10}{'AUC':>16}{'gap recovered':>18}{'ECE':>16}{'ECE / full':>13}{'approved':>10}"
          f"{'limit (CNY m)':>15}{'EL (CNY m)':>12}")  # fmt: skip
    summary: dict[str, dict[str, Any]] = {}
    for name in names:
        auc, auc_sd = stat(name, "auc")
        ece, ece_sd = stat(name, "ece")
        gap, gap_sd = stat(name, "gap_recovered") if name != "full" else (1.0, 0.0)
        ratio, _ = stat(name, "ece_vs_full") if name != "full" else (1.0, 0.0)
        approved, _ = stat(name, "approval_rate")
        limit, _ = stat(name, "total_limit")
        loss, _ = stat(name, "expected_loss")
        summary[name] = {"auc": auc, "auc_sd": auc_sd, "gap_recovered": gap, "gap_recovered_sd": gap_sd,
                         "ece": ece, "ece_sd": ece_sd, "ece_vs_full": ratio, "approval_rate": approved,
                         "total_limit": limit, "expected_loss": loss}  # fmt: skip
        gap_text = "—" if name in ("none", "full") else f"{gap:+.2f} ± {gap_sd:.2f}"
        print(f"{name:<10}{auc:>10.4f} ± {auc_sd:.3f}{gap_text:>18}{ece:>10.4f} ± {ece_sd:.3f}{ratio:>13.2f}"
              f"{approved:>10.1%}{limit / 1e6:>15,.1f}{loss / 1e6:>12,.2f}")  # fmt: skip
    print(f"(AUC of the true PD itself: {stat('none', 'auc_true_pd')[0]:.4f})")
    print("RESULT " + json.dumps({"firms": args.firms, "seeds": seeds, "summary": summary, "runs": runs}))


if __name__ == "__main__":
    main()
