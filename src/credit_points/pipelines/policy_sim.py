"""What a policy change does before it goes live: the same applicants decided under the policy in force and
under a proposed one, side by side.

The model is scored once (:meth:`DecisionEngine.decide_under`): points and PD are the model's and do not
depend on the policy, so only the policy runs twice and every difference is the policy's. Nothing is
registered or audited. The swap set follows the practice of credit-policy change reviews: swap-ins (not
approved under the policy in force, approved under the proposal), swap-outs (the reverse) and limit changes
among firms approved under both. The expected loss of a swap-in is **extrapolated**: it is the model's PD on
firms the policy in force did not lend to, whose outcomes were never observed, so it carries the model's
uncertainty outside its booked population.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from credit_points.engine import DecisionEngine
from credit_points.pipelines.score import PortfolioSummary
from credit_points.policy.config import PolicyConfig, load_proposed_policy

__all__ = ["PolicySimulation", "load_proposed_policy", "read_applicants", "read_audited", "simulate_policy"]

#: the policy outputs compared row by row
COMPARED = ("decision", "product", "limit", "rate", "expected_loss_net", "binding_constraint")
#: what the changed-firms table keeps of the applicant
_KEYS = ("decision_id", "firm_id", "name", "as_of_date", "zone")


@dataclass
class PolicySimulation:
    """Both policies' decisions of the same applicants and their comparison."""

    current: dict[str, str]  # version, hash, where
    proposed: dict[str, str]
    model: dict[str, str]  # name, version, artifact_hash
    rows: int
    summary: (
        pd.DataFrame
    )  # scope, group, policy, applicants, approval_rate, refer_rate, ... (PortfolioSummary)
    swaps: pd.DataFrame  # one row per (current decision, proposed decision)
    changed: pd.DataFrame  # the firms whose decision, product or limit changed
    headline: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """``summary.csv``, ``swaps.csv``, ``changed.csv`` and ``simulation.json`` in ``out_dir``."""
        import json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {name: out / f"{name}.csv" for name in ("summary", "swaps", "changed")}
        self.summary.to_csv(paths["summary"], index=False)
        self.swaps.to_csv(paths["swaps"], index=False)
        self.changed.to_csv(paths["changed"], index=False)
        paths["simulation"] = out / "simulation.json"
        body = {
            "current_policy": self.current,
            "proposed_policy": self.proposed,
            "model": self.model,
            "rows": self.rows,
            "headline": self.headline,
            "swaps": self.swaps.to_dict(orient="records"),
        }
        paths["simulation"].write_text(json.dumps(body, indent=2, ensure_ascii=False, default=float), "utf-8")
        return paths


def simulate_policy(
    engine: DecisionEngine, proposed: PolicyConfig, frame: pd.DataFrame, *, proposed_where: str = ""
) -> PolicySimulation:
    """Decide the validated applicant ``frame`` under ``engine``'s policy and under ``proposed``."""
    ours, theirs = engine.decide_under(frame, [engine.policy, proposed])
    stage = np.asarray(ours["stage"], dtype=object)
    sides = {"current": ours, "proposed": theirs}
    summary = _summary(sides, stage)
    swaps = _swaps(ours, theirs)
    changed = _changed(frame, stage, ours, theirs)
    current = {"version": engine.policy.version, "hash": engine.policy.content_hash, "where": "in force"}
    return PolicySimulation(
        current=current,
        proposed={"version": proposed.version, "hash": proposed.content_hash, "where": proposed_where},
        model={k: str(v) for k, v in engine.identity.as_dict().items()},
        rows=len(frame),
        summary=summary,
        swaps=swaps,
        changed=changed,
        headline=_headline(summary, swaps, len(changed)),
    )


def _summary(sides: dict[str, dict[str, Any]], stage: np.ndarray) -> pd.DataFrame:
    parts = []
    for name, columns in sides.items():
        decided = pd.DataFrame(
            {
                "stage": stage,
                "product": np.asarray(columns["product"], dtype=object),
                "decision": np.asarray(columns["decision"], dtype=object),
                "limit": np.asarray(columns["limit"], dtype=float),
                "expected_loss_net": np.asarray(columns["expected_loss_net"], dtype=float),
                "rate": np.asarray(columns["rate"], dtype=float),
            }
        )
        totals = PortfolioSummary()
        totals.add(decided)
        for scope in (None, "stage", "product"):
            table = totals.table(scope).reset_index(names="group")
            table.insert(0, "policy", name)
            table.insert(0, "scope", scope or "all")
            parts.append(table)
    summary = pd.concat(parts, ignore_index=True)
    return summary.sort_values(["scope", "group", "policy"], kind="stable", key=_scope_order).reset_index(
        drop=True
    )


def _scope_order(column: pd.Series) -> pd.Series:
    if column.name == "scope":
        return column.map({"all": 0, "stage": 1, "product": 2})
    return column


def _swap_set(before: Any, after: Any) -> np.ndarray:
    """Each row's place in the swap set, from its decision under the policy in force and the proposal."""
    approved_before = np.asarray(before, dtype=object) == "approve"
    approved_after = np.asarray(after, dtype=object) == "approve"
    return np.select(
        [
            ~approved_before & approved_after,
            approved_before & ~approved_after,
            approved_before & approved_after,
        ],
        ["swap-in", "swap-out", "approved under both"],
        "not approved under either",
    )


def _swaps(ours: dict[str, Any], theirs: dict[str, Any]) -> pd.DataFrame:
    limit_before = np.asarray(ours["limit"], dtype=float)
    limit_after = np.asarray(theirs["limit"], dtype=float)
    frame = pd.DataFrame(
        {
            "set": _swap_set(ours["decision"], theirs["decision"]),
            "decision_current": np.asarray(ours["decision"], dtype=object),
            "decision_proposed": np.asarray(theirs["decision"], dtype=object),
            "firms": 1,
            "limit_current": limit_before,
            "limit_proposed": limit_after,
            "limit_up": limit_after > limit_before,
            "limit_down": limit_after < limit_before,
            "expected_loss_current": np.asarray(ours["expected_loss_net"], dtype=float),
            "expected_loss_proposed": np.asarray(theirs["expected_loss_net"], dtype=float),
        }
    )
    table = frame.groupby(["set", "decision_current", "decision_proposed"], as_index=False).sum()
    # a swap-in's expected loss is the model's PD on firms the policy in force did not lend to
    table["expected_loss_basis"] = np.where(table["set"] == "swap-in", "extrapolated", "model")
    order = {"swap-in": 0, "swap-out": 1, "approved under both": 2, "not approved under either": 3}
    table = table.sort_values(
        ["set", "decision_current", "decision_proposed"], key=lambda c: c.map(order) if c.name == "set" else c
    )
    return table.reset_index(drop=True)


def _changed(
    frame: pd.DataFrame, stage: np.ndarray, ours: dict[str, Any], theirs: dict[str, Any]
) -> pd.DataFrame:
    differs = np.zeros(len(frame), dtype=bool)
    for name in ("decision", "product"):
        differs |= np.asarray(ours[name], dtype=object) != np.asarray(theirs[name], dtype=object)
    differs |= np.asarray(ours["limit"], dtype=float) != np.asarray(theirs["limit"], dtype=float)
    out = {key: np.asarray(frame[key])[differs] for key in _KEYS if key in frame}
    out["stage"] = stage[differs]
    out["prob_default"] = np.asarray(ours["prob_default"], dtype=float)[differs]
    out["grade"] = np.asarray(ours["grade"], dtype=object)[differs]
    for name in COMPARED:
        out[f"{name}_current"] = np.asarray(ours[name])[differs]
        out[f"{name}_proposed"] = np.asarray(theirs[name])[differs]
    table = pd.DataFrame(out)
    swap = _swap_set(table["decision_current"], table["decision_proposed"])
    table["change"] = np.where(
        np.isin(swap, ["swap-in", "swap-out"]),
        swap,
        np.where(table["decision_current"] != table["decision_proposed"], "decision", "limit or product"),
    )
    table["expected_loss_basis"] = np.where(table["change"] == "swap-in", "extrapolated", "model")
    return table


def _headline(summary: pd.DataFrame, swaps: pd.DataFrame, changed: int) -> dict[str, Any]:
    overall = summary[summary["scope"] == "all"].set_index("policy")
    out: dict[str, Any] = {"changed_firms": changed}
    for policy in ("current", "proposed"):
        row = overall.loc[policy]
        out[policy] = {
            "approval_rate": float(row["approval_rate"]),
            "refer_rate": float(row["refer_rate"]),
            "total_limit": float(row["total_limit"]),
            "expected_loss_net": float(row["expected_loss_net"]),
        }
    by_set = swaps.groupby("set")[["firms", "limit_proposed", "expected_loss_proposed"]].sum()
    for name in ("swap-in", "swap-out"):
        got = by_set.loc[name] if name in by_set.index else None
        out[name] = {
            "firms": int(got["firms"]) if got is not None else 0,
            "expected_loss_proposed": float(got["expected_loss_proposed"]) if got is not None else 0.0,
        }
    both = swaps[swaps["set"] == "approved under both"]
    out["limit_changes"] = {
        "up": int(both["limit_up"].sum()),
        "down": int(both["limit_down"].sum()),
        "total_change": float((both["limit_proposed"] - both["limit_current"]).sum()),
    }
    return out


def read_applicants(engine: DecisionEngine, path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A file's applicants as ``score`` reads them: (good rows, one error row per problem)."""
    from credit_points.datasets.io import read_table
    from credit_points.pipelines.score import columns_to_drop, validate_for

    drop = columns_to_drop(path, engine.fields, drop_unknown=False)
    frame = read_table(path).drop(columns=drop)
    return validate_for(engine, frame, str(path))


def read_audited(
    engine: DecisionEngine,
    store: Any,
    *,
    since: Any = None,
    until: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The audited decisions dated ``since``..``until`` (decision dates, both included) as applicants, from
    the inputs their audit rows stored: (typed rows with their ``decision_id``, error rows for inputs this
    model cannot decide)."""
    from credit_points.audit.outcomes import OutcomeStore
    from credit_points.records import decidable_frame

    ids: list[str] = []
    inputs: list[dict[str, Any]] = []
    for chunk_ids, chunk_inputs in OutcomeStore(store).decision_inputs(since=since, until=until):
        stored = [isinstance(given, dict) for given in chunk_inputs]
        ids.extend(did for did, ok in zip(chunk_ids, stored, strict=True) if ok)
        inputs.extend(given for given, ok in zip(chunk_inputs, stored, strict=True) if ok)
    frame, unknown = decidable_frame(engine, inputs)
    frame.insert(0, "decision_id", ids)
    zone = engine.points_config.zone_field
    errors = pd.DataFrame(
        {
            "decision_id": frame["decision_id"][unknown],
            "field": zone,
            "value": frame[zone][unknown] if zone in frame else None,
            "reason": engine.unknown_zone_reason(),
        }
    )
    return frame[~unknown].reset_index(drop=True), errors.reset_index(drop=True)
