"""`policy simulate` through the real command line: a lowered cap lowers every limit above it and nothing
else; a tighter cut-off moves exactly the firms between the two cut-offs; the audited decisions of a window
are simulated from their stored inputs. The expected sets come from `score` of the same file (the policy in
force), computed independently of the simulation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from .cli import run_cli

pytestmark = pytest.mark.slow

CAP = 5_000_000
CUTOFF = 0.015
REFER = 0.01


@pytest.fixture(scope="module")
def scored(trained_model, tmp_path_factory):
    """400 applicants of 2024 and what `score` decides for them under the policy in force."""
    work = tmp_path_factory.mktemp("policy-sim")
    rows = trained_model.applicants.drop(columns=["default_12m"])
    rows = rows[rows["as_of_date"].dt.year == 2024].head(400).reset_index(drop=True)
    rows.to_parquet(work / "in.parquet")
    done = run_cli(["score", "--model", _model(trained_model), "--in", str(work / "in.parquet"),
                    "--out", str(work / "scored.parquet")], trained_model.env())  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return work, pd.read_parquet(work / "scored.parquet")


def _model(trained_model) -> str:  # noqa: ANN001
    return f"models:/credit-points/{trained_model.version}"


def _overlay(path, **product_changes) -> str:  # noqa: ANN001
    products = ("keji_dai", "shanxin_dai", "jifen_dai", "renewal_without_principal")
    body = "product_overrides:\n" + "".join(f"  {p}: {json.dumps(product_changes)}\n" for p in products)
    path.write_text(body, encoding="utf-8")
    return str(path)


def _simulate(trained_model, work, overlay: str, out: str, *source: str):  # noqa: ANN001, ANN202
    done = run_cli(["policy", "simulate", overlay, *source, "--model", _model(trained_model),
                    "--out", str(work / out)], trained_model.env())  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    changed = pd.read_csv(work / out / "changed.csv", dtype={"firm_id": str})
    summary = pd.read_csv(work / out / "summary.csv")
    return done, changed, summary


def test_a_lowered_cap_lowers_every_limit_above_it_and_nothing_else(trained_model, scored) -> None:
    work, before = scored
    assert (before["limit"] > CAP).any() and (before["limit"].between(1, CAP)).any()
    # when every product's cap is lowered to 5 M
    done, changed, summary = _simulate(
        trained_model, work, _overlay(work / "cap.yaml", cap=CAP), "cap", "--in", str(work / "in.parquet")
    )
    # then exactly the firms above the cap changed: to the cap, with their decision kept
    above = before[before["limit"] > CAP]
    assert sorted(changed["firm_id"]) == sorted(above["firm_id"])
    assert (changed["limit_proposed"] == CAP).all()
    assert (changed["decision_proposed"] == changed["decision_current"]).all()
    assert set(changed["change"]) == {"limit or product"}
    # and the totals are the independent ones: every limit at most the cap, nothing else moved
    overall = summary[summary["scope"] == "all"].set_index("policy")
    assert overall.loc["current", "total_limit"] == pytest.approx(before["limit"].sum())
    assert overall.loc["proposed", "total_limit"] == pytest.approx(np.minimum(before["limit"], CAP).sum())
    assert overall.loc["proposed", "approval_rate"] == overall.loc["current", "approval_rate"]
    out = " ".join(done.stdout.split())
    assert f"{len(above):,} firm(s) changed" in out and "swap-ins 0" in out and "swap-outs 0" in out


def test_a_tighter_cutoff_moves_exactly_the_firms_between_the_cutoffs(trained_model, scored) -> None:
    work, before = scored
    # the firms a 1.5% cut-off on every product would stop lending to (every product's own is above it),
    # and the approved ones its refer band from 1% would send to an officer
    offered = before["decision"] != "decline"
    between = before[(before["prob_default"] > CUTOFF) & offered]
    band = before[
        before["prob_default"].between(REFER, CUTOFF, inclusive="right") & (before["decision"] == "approve")
    ]
    assert len(between) > 0 and len(band) > 0
    # when every product's cut-off is tightened to 1.5%, its refer band starting at 1%
    done, changed, summary = _simulate(
        trained_model,
        work,
        _overlay(work / "cutoff.yaml", pd_cutoff=CUTOFF, refer_pd_above=REFER),
        "cutoff",
        "--in",
        str(work / "in.parquet"),
    )
    moved = changed[changed["decision_current"] != changed["decision_proposed"]].set_index("firm_id")
    # then exactly the firms between the two cut-offs are now declined, and those in the new band referred
    assert sorted(moved.index) == sorted([*between["firm_id"], *band["firm_id"]])
    assert (moved.loc[list(between["firm_id"]), "decision_proposed"] == "decline").all()
    assert (moved.loc[list(band["firm_id"]), "decision_proposed"] == "refer").all()
    swap_outs = int((between["decision"] == "approve").sum()) + len(band)
    assert int((moved["change"] == "swap-out").sum()) == swap_outs
    out = " ".join(done.stdout.split())
    assert f"swap-outs {swap_outs:,}" in out and "swap-ins 0" in out


def test_a_loosened_cutoff_marks_the_swap_ins_expected_loss_extrapolated(trained_model, scored) -> None:
    work, before = scored
    # when every product approves up to a PD of 20% (cut-off and refer band)
    _, changed, _ = _simulate(
        trained_model,
        work,
        _overlay(work / "loose.yaml", pd_cutoff=0.2, refer_pd_above=0.2),
        "loose",
        "--in",
        str(work / "in.parquet"),
    )
    swaps = pd.read_csv(work / "loose" / "swaps.csv")
    # then firms refused or referred on their PD are now approved: swap-ins, with a PD above a refer line
    ins = changed[changed["change"] == "swap-in"]
    assert len(ins) > 0
    assert (
        set(ins["decision_current"]) <= {"decline", "refer"} and (ins["decision_proposed"] == "approve").all()
    )
    assert (ins["prob_default"] > 0.03).all() and (ins["prob_default"] <= 0.2).all()
    # and their expected loss is marked extrapolated (never observed), in the firm table and the swap set
    assert set(ins["expected_loss_basis"]) == {"extrapolated"}
    in_set = swaps[swaps["set"] == "swap-in"]
    assert set(in_set["expected_loss_basis"]) == {"extrapolated"} and in_set["firms"].sum() == len(ins)
    assert set(swaps.loc[swaps["set"] != "swap-in", "expected_loss_basis"]) == {"model"}


def test_the_audited_decisions_of_a_window_are_simulated_from_their_stored_inputs(
    trained_model, scored
) -> None:
    work, before = scored
    url = f"sqlite:///{work / 'audit.db'}"
    done = run_cli(["score", "--model", _model(trained_model), "--in", str(work / "in.parquet"), "--out",
                    str(work / "audited.parquet"), "--audit", "--audit-url", url], trained_model.env())  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    cut = before["as_of_date"].sort_values().iloc[len(before) // 2].date().isoformat()
    window = before[before["as_of_date"] <= pd.Timestamp(cut)]
    # when the cap change is simulated on the audited decisions up to a date
    done, changed, summary = _simulate(
        trained_model,
        work,
        _overlay(work / "cap.yaml", cap=CAP),
        "window",
        "--until",
        cut,
        "--audit-url",
        url,
    )
    # then the window's decisions, and only they, were decided under both policies
    out = " ".join(done.stdout.split())
    assert f"{len(window):,} applicants (audited decisions from the first to {cut} decision date)" in out
    assert sorted(changed["firm_id"]) == sorted(window.loc[window["limit"] > CAP, "firm_id"])
    assert changed["decision_id"].notna().all()
    overall = summary[summary["scope"] == "all"].set_index("policy")
    assert overall.loc["current", "total_limit"] == pytest.approx(window["limit"].sum())
